"""Traditional Chinese (zh-hant, Taiwan phrasing) for the site's own strings: generated from
zh_hans_translations.py by scripts/zh_hant.py (OpenCC s2twp and the product's terms), then
reviewed; `scripts/messages.py --fill` writes them into the .po. Keep placeholders like %(name)s."""

ZH_HANT = {
    "Dashboard": "控制台",
    "API Keys": "API 金鑰",
    "Usage": "用量",
    "Billing": "帳單",
    "Docs": "文件",
    "Overview": "概覽",
    "Quick Start": "快速開始",
    "Code Examples": "程式碼範例",
    "Chat Completions": "對話補全",
    "Streaming": "串流輸出",
    "Models": "模型",
    "Balance": "餘額",
    "Error Codes": "錯誤碼",
    "Best Practices": "最佳做法",
    "Compatible Tools": "相容工具",
    "SDK Examples": "SDK 範例",
    "English": "English",
    "简体中文": "简体中文",
    "繁體中文": "繁體中文",
    "Signed in as %(email)s": "已登入：%(email)s",
    "Credits": "點數",
    "credits": "點數",
    "Held by requests in flight": "進行中請求預留",
    "Spent today": "今日消耗",
    "Spending over the last 7 days: %(week)s credits": "最近 7 天消耗：%(week)s 點數",
    "Available": "可用",
    "Latest credit activity": "最近點數變動",
    "When": "時間",
    "What": "類型",
    "Note": "備註",
    "Amount": "金額",
    "Balance after": "變動後餘額",
    "No credit activity yet. Your 500 free credits arrive when you verify your e-mail address.": "還沒有點數變動。驗證電子郵件後即可獲得 "
    "500 "
    "免費點數。",
    "Account settings": "帳戶設定",
    "E-mail addresses": "電子郵件地址",
    "Password": "密碼",
    "Two-factor authentication": "兩步驗證",
    "One OpenAI-compatible endpoint for DeepSeek, Qwen, Claude, Gemini, GPT-4 and more, paid with prepaid credits.": "一個相容 "
    "OpenAI "
    "的介面，接入 "
    "DeepSeek、通義千問、Claude、Gemini、GPT-4 "
    "等模型，使用預付點數付費。",
    "Skip to content": "跳到正文",
    "Main": "主導航",
    "soon": "即將推出",
    "Account menu": "帳戶選單",
    "Account": "帳戶",
    "Change password": "修改密碼",
    "Admin": "管理後台",
    "Log out": "登出",
    "Log in": "登入",
    "Sign Up Free": "免費註冊",
    "One OpenAI-compatible API for many models.": "一個相容 OpenAI 的 API，接入眾多模型。",
    "1 credit = US$0.01. Credits never expire.": "1 點數 = 0.01 美元。點數永不過期。",
    "Your API access is suspended while a payment dispute is open. Please contact support.": "付款爭議處理期間，您的 "
    "API "
    "存取已暫停。請聯絡客服。",
    "Top up": "儲值",
    "Top-ups are off on this server: Stripe is not configured (STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET).": "本伺服器未開啟儲值：Stripe "
    "尚未設定（STRIPE_SECRET_KEY "
    "與 "
    "STRIPE_WEBHOOK_SECRET）。",
    "Another amount (US$%(min_dollars)s–%(max_dollars)s)": "其他金額（%(min_dollars)s–%(max_dollars)s 美元）",
    "Continue to payment": "前往付款",
    "Low-balance warning": "餘額不足提醒",
    "Save": "儲存",
    "Payments": "付款記錄",
    "Date": "日期",
    "Status": "狀態",
    "Receipt": "收據",
    "No payments yet.": "還沒有付款記錄。",
    "One API for every model": "一個 API，呼叫所有模型",
    "One OpenAI-compatible endpoint for every model": "一個相容 OpenAI 的介面，呼叫所有模型",
    "OpenCodex gives you DeepSeek, Qwen, Claude, Gemini, GPT-4 and more through a single OpenAI-compatible API. Keep your SDK, change the base URL, pay per token with prepaid credits.": "OpenCodex "
    "透過一個相容 "
    "OpenAI "
    "的 "
    "API "
    "為您提供 "
    "DeepSeek、通義千問、Claude、Gemini、GPT-4 "
    "等模型。沿用您的 "
    "SDK，只需更換 "
    "Base "
    "URL，按 "
    "token "
    "使用預付點數付費。",
    "Model families": "模型系列",
    "and more": "更多",
    "Get 500 free Credits on signup. No credit card required.": "註冊即送 500 免費點數，無需信用卡。",
    "Why OpenCodex": "為什麼選擇 OpenCodex",
    "Drop-in compatible": "即插即用",
    "Works with the official OpenAI SDKs and tools like Cursor, Continue and Cline: plain and streaming.": "支援官方 "
    "OpenAI "
    "SDK "
    "以及 "
    "Cursor、Continue、Cline "
    "等工具，普通與串流輸出皆可。",
    "Credits you can trust": "可信的點數",
    "Every credit is on a ledger. A request reserves what it may cost and is charged only for what it produced.": "每一筆點數都記入帳本。請求先預留可能的最高費用，最終只按實際生成的內容計費。",
    "Keys under control": "金鑰盡在掌控",
    "Per-key credit and rate limits, rotation with a grace period, instant revocation.": "每個金鑰可設點數與速率上限，支援帶寬限期的輪換，撤銷即時生效。",
    "Three lines to switch": "三行程式碼即可切換",
    "Model": "模型",
    "Provider": "提供商",
    "Context": "上下文",
    "Input / 1M": "輸入 / 百萬 token",
    "Output / 1M": "輸出 / 百萬 token",
    "No models are available right now.": "目前沒有可用的模型。",
    "API Docs": "API 文件",
    "Documentation": "文件",
    "Search the docs": "搜尋文件",
    "Search the docs…": "搜尋文件…",
    "No page matches.": "沒有匹配的頁面。",
    "On this page": "本頁內容",
    "All keys": "全部金鑰",
    "Key": "金鑰",
    "Created": "建立時間",
    "Last used": "最近使用",
    "never": "從未",
    "Expires": "過期時間",
    "Credit limit": "點數上限",
    "%(spent)s spent": "已用 %(spent)s",
    "none": "無",
    "Requests per minute": "每分鐘請求數",
    "account default": "帳戶預設",
    "Replaces": "替代",
    "Rotate…": "輪換…",
    "Revoke…": "撤銷…",
    "History": "歷史",
    "Event": "事件",
    "By": "操作人",
    "Detail": "詳情",
    "system": "系統",
    "Use a key as <code>Authorization: Bearer sk-live-…</code> with base URL <code>%(SITE_URL)s/api/v1</code>. Keep keys out of front-end code.": "以 "
    "<code>Authorization: "
    "Bearer "
    "sk-live-…</code> "
    "使用金鑰，Base "
    "URL "
    "為 "
    "<code>%(SITE_URL)s/api/v1</code>。請勿在前端程式碼中暴露金鑰。",
    "Your new key “%(name)s”": "您的新金鑰“%(name)s”",
    "Copy it now. For your security it will not be shown again.": "請立即複製。為了安全，它不會再次顯示。",
    "If you lose it, revoke it and create another.": "如果丟失，請撤銷它並建立新的金鑰。",
    "API key": "API 金鑰",
    "Copied!": "已複製！",
    "Copy": "複製",
    "This key replaces %(old)s. Update your apps before the old key stops working.": "此金鑰替代 "
    "%(old)s。請在舊金鑰失效前更新您的應用。",
    "Create a key": "建立金鑰",
    "Create your first API key": "建立您的第一個 API 金鑰",
    "You have no API keys yet. A key lets your code call the API and spend your credits.": "您還沒有 API "
    "金鑰。金鑰讓您的程式碼呼叫 "
    "API "
    "並使用點數。",
    "optional": "可選",
    "Create key": "建立金鑰",
    "Your keys": "您的金鑰",
    "Name": "名稱",
    "Credit limit / spent": "點數上限 / 已用",
    "RPM": "每分鐘請求",
    "Actions": "操作",
    "default": "預設",
    "Rotating": "輪換中",
    "Active": "有效",
    "Expired": "已過期",
    "Revoked": "已撤銷",
    "Revoke “%(name)s” (%(masked)s)? Requests using it are refused immediately. This cannot be undone.": "撤銷“%(name)s”（%(masked)s）？使用它的請求將立即被拒絕，且無法恢復。",
    "Revoke key": "撤銷金鑰",
    "Revoke this key?": "撤銷此金鑰？",
    "“%(name)s” (<code>%(masked)s</code>) will be refused on the very next request. This cannot be undone.": "“%(name)s”（<code>%(masked)s</code>）將從下一個請求起被拒絕，且無法恢復。",
    "Cancel": "取消",
    "This key no longer works.": "此金鑰已失效。",
    "Back to keys": "返回金鑰列表",
    "Rotate key": "輪換金鑰",
    "A new key replaces “%(name)s” (<code>%(masked)s</code>) with the same name and limits. You will see the new key once.": "新金鑰將以相同的名稱和限制替代“%(name)s”（<code>%(masked)s</code>）。新金鑰只顯示一次。",
    "Times in %(tz)s. Figures update every minute.": "時間為 %(tz)s。資料每分鐘更新。",
    "Request log": "請求日誌",
    "Range": "時間範圍",
    "From": "開始",
    "To": "結束",
    "Group by": "分組",
    "All models": "全部模型",
    "Apply": "應用",
    "Time zone": "時區",
    "That page link is broken; showing the newest requests.": "該分頁連結無效，已顯示最新的請求。",
    "All": "全部",
    "Succeeded": "成功",
    "Failed": "失敗",
    "Filter": "篩選",
    "Time": "時間",
    "Tokens in / out": "輸入 / 輸出 token",
    "Latency": "延遲",
    "Request id": "請求 ID",
    "No requests match.": "沒有匹配的請求。",
    "Older requests": "更早的請求",
    "No usage in this range yet": "此時間範圍內還沒有用量",
    "Make your first request with an API key and it shows up here within a minute.": "用 API "
    "金鑰發出第一個請求，一分鐘內即會顯示在這裡。",
    "Credits spent": "點數消耗",
    "Credits spent per period": "每個時段的點數消耗",
    "Tokens": "Token",
    "Tokens per period": "每個時段的 token",
    "Requests and error rate": "請求數與錯誤率",
    "Requests and error rate per period": "每個時段的請求數與錯誤率",
    "Totals": "合計",
    "Hourly CSV": "按小時 CSV",
    "Requests CSV": "請求 CSV",
    "Requests": "請求數",
    "Errors": "錯誤數",
    "Prompt tokens": "輸入 token",
    "Completion tokens": "輸出 token",
    "Whole dollars; 1 US$ buys 100 credits.": "整數美元；1 美元可購買 100 點數。",
    "Enter a whole number of dollars, e.g. 20.": "請輸入整數美元金額，例如 20。",
    "Choose from $%(low)s to $%(high)s.": "請選擇 %(low)s 到 %(high)s 美元之間的金額。",
    "Amount (US$)": "金額（美元）",
    "Warn me below": "低於此值時提醒我",
    "credits; one e-mail when the balance falls below, 0 turns it off": "點數；餘額低於該值時傳送一封郵件，設為 0 關閉提醒",
    "Awaiting payment": "等待付款",
    "Processing": "處理中",
    "Paid": "已付款",
    "Amount mismatch (not credited)": "金額不符（未入帳）",
    "Partially refunded": "部分退款",
    "Refunded": "已退款",
    "Disputed": "爭議中",
    "Received": "已接收",
    "Processed": "已處理",
    "Ignored": "已忽略",
    "Stripe has not confirmed the payment yet; it will appear soon.": "Stripe 尚未確認付款，稍後將顯示。",
    "Thank you! %(credits)s credits were added to your balance.": "感謝！已向您的餘額新增 %(credits)s 點數。",
    "Your payment is %(status)s.": "您的付款狀態：%(status)s。",
    "Checkout cancelled; nothing was charged.": "已取消結帳，未產生任何費用。",
    "Low-balance warning saved.": "餘額不足提醒已儲存。",
    "Monthly budget": "每月預算",
    "credits per calendar month (UTC); empty for no limit": "每個自然月（UTC）的點數；留空表示不限",
    "Turn on auto top-up": "開啟自動儲值",
    "When the balance falls below": "當餘額低於",
    "Top up by (US$)": "儲值金額（美元）",
    "Whole dollars, charged to your saved card.": "整數美元，從您儲存的卡片扣款。",
    "Started": "已開始",
    "Declined": "被拒絕",
    "Authentication required": "需要驗證",
    "Daily cap reached": "已達每日上限",
    "Monthly budget saved.": "每月預算已儲存。",
    "Auto top-up is on.": "自動儲值已開啟。",
    "Auto top-up is off.": "自動儲值已關閉。",
    "Stripe has not confirmed the card yet; please try again.": "Stripe 尚未確認該卡片，請重試。",
    "Card saved: %(brand)s ending %(last4)s.": "卡片已儲存：%(brand)s，尾號 %(last4)s。",
    "Auto top-up": "自動儲值",
    "Charge your saved card automatically when the balance falls below a threshold, so your API keys never stop.": "餘額低於門檻時自動從您儲存的卡片扣款儲值，讓您的 "
    "API "
    "金鑰永不停機。",
    "Auto top-up was turned off: your card needs you to confirm payments.": "自動儲值已關閉：您的卡片需要您本人確認付款。",
    "Auto top-up was turned off after %(failures)s failed charges.": "扣款失敗 %(failures)s 次後，自動儲值已關閉。",
    "Save a card again to turn it back on.": "重新儲存卡片即可再次開啟。",
    "Saved card: %(brand)s ending %(last4)s": "已儲存的卡片：%(brand)s，尾號 %(last4)s",
    "Replace the card": "更換卡片",
    "Save a card": "儲存卡片",
    "Save auto top-up": "儲存自動儲值設定",
    "This month's API usage: %(spent)s credits.": "本月 API 用量：%(spent)s 點數。",
    "Budget: %(limit)s credits; requests are refused once it is used up, and you get e-mails at 50 %%, 80 %% and 100 %%.": "預算：%(limit)s "
    "點數；用完後請求將被拒絕，用到 "
    "50 "
    "%%、80 "
    "%% "
    "和 "
    "100 "
    "%% "
    "時會收到郵件提醒。",
    "Receipt and invoice": "收據與發票",
    "Invoice": "發票",
    "PDF": "PDF",
    "(auto)": "（自動）",
    "Signup grant": "註冊贈送",
    "Top-up": "儲值",
    "Refund": "退款",
    "Dispute": "爭議",
    "Adjustment": "調整",
    "Settled": "已結算",
    "Released": "已釋放",
    "So you can tell your keys apart, e.g. the app that uses it.": "用於區分您的金鑰，例如使用它的應用名稱。",
    "Expires on": "過期日期",
    "Optional. The key works until the end of this day (UTC).": "可選。金鑰在該日結束前（UTC）有效。",
    "Optional. The most this key may spend, in credits.": "可選。此金鑰最多可消耗的點數。",
    "Optional. Defaults to the account's limit.": "可選。預設使用帳戶的限制。",
    "Give the key a name.": "請為金鑰命名。",
    "Choose today or a later date.": "請選擇今天或之後的日期。",
    "Choose a date within ten years.": "請選擇十年以內的日期。",
    "Keep the old key working": "舊金鑰繼續有效",
    "Time to move your apps to the new key. 'now' stops the old key at once.": "留給您的應用切換到新金鑰的時間。“now”表示舊金鑰立即失效。",
    "Key “%(name)s” (%(masked)s) is revoked.": "金鑰“%(name)s”（%(masked)s）已撤銷。",
    "Last 24 hours": "最近 24 小時",
    "7 days": "7 天",
    "30 days": "30 天",
    "90 days": "90 天",
    "Custom": "自訂",
    "That is not one of your keys.": "這不是您的金鑰。",
    "You have no usage of that model.": "您沒有該模型的用量。",
    "Choose both a start and an end date.": "請選擇開始和結束日期。",
    "The start date must not be after the end date.": "開始日期不能晚於結束日期。",
    "Choose at most %(days)s days.": "最多選擇 %(days)s 天。",
    "Time zone saved.": "時區已儲存。",
    "Choose a time zone from the list.": "請從列表中選擇時區。",
    "Rotated": "已輪換",
    "Limits changed": "限制已修改",
    "Name and limits": "名稱與限制",
    "Saved.": "已儲存。",
    "Language": "語言",
    "Max output": "最大輸出",
    "Cached input / 1M": "快取輸入 / 百萬 token",
    "cache write %(credits)s ($%(usd)s)": "快取寫入 %(credits)s（$%(usd)s）",
    "+ %(credits)s per request ($%(usd)s)": "每次請求另加 %(credits)s（$%(usd)s）",
    "Share of prompt tokens read from the provider’s cache, at the cached price": "從提供商快取讀取的提示詞 token "
    "佔比，按快取價格計費",
    "Cache hits": "快取命中",
    "At most %(max)s requests per minute.": "每分鐘最多 %(max)s 個請求。",
    "Claude Code": "Claude Code",
    "Codex CLI": "Codex CLI",
    "Cline": "Cline",
    "Continue": "Continue",
    "opencode": "opencode",
    "Qwen Code": "Qwen Code",
    "aider": "aider",
    "Cursor": "Cursor",
    "expiry\x04never": "永不",
    "Error rate": "錯誤率",
    "How we greet you. Optional.": "我們如何稱呼你。選填。",
    "Usage charts, totals and exports count days from midnight in this zone.": "用量圖表、彙總和匯出按此時區的零點劃分日期。",
    "Your password": "你的密碼",
    "Your email address": "你的電子郵件地址",
    "That is not your password.": "密碼不正確。",
    "That is not your email address.": "這不是你的電子郵件地址。",
    "Welcome credits": "歡迎點數",
    "Profile saved.": "個人資料已儲存。",
    "Your account is deleted. Its API keys no longer work and your personal data is gone.": "你的帳戶已刪除。它的 "
    "API "
    "金鑰已失效，你的個人資料已清除。",
    "(no model)": "（未指定模型）",
    "other": "其他",
    "other (models not in the catalog)": "其他（不在模型目錄中的模型）",
    "Page not found": "頁面不存在",
    "There is nothing at this address. It may have moved, or the link may be mistyped.": "這個地址沒有內容。頁面可能已移動，或連結有誤。",
    "Go to the dashboard": "前往控制台",
    "Go to the home page": "返回首頁",
    "Read the docs": "閱讀文件",
    "Something went wrong": "出錯了",
    "The error is ours and has been logged. Please try again in a moment.": "這是我們的錯誤，已記錄在案。請稍後再試。",
    "API requests are not affected by this page.": "API 請求不受此頁面影響。",
    "Email Addresses": "電子郵件地址",
    "The following email addresses are associated with your account:": "以下電子郵件地址已關聯到你的帳戶：",
    "Verified": "已驗證",
    "Unverified": "未驗證",
    "Primary": "主電子郵件",
    "Make Primary": "設為主電子郵件",
    "Re-send Verification": "重新傳送驗證郵件",
    "Remove": "移除",
    "Add Email Address": "新增電子郵件地址",
    "Add Email": "新增電子郵件",
    "Do you really want to remove the selected email address?": "確定要移除所選的電子郵件地址嗎？",
    "Hello from %(site_name)s!": "來自 %(site_name)s 的問候！",
    "Thank you for using %(site_name)s!\n%(site_domain)s": "感謝使用 %(site_name)s！\n%(site_domain)s",
    "Confirm your email address": "確認你的電子郵件地址",
    "Enter this code in the browser window where you signed up:": "請在你註冊時的瀏覽器視窗中輸入此驗證碼：",
    "Someone (hopefully you) signed up for %(site_name)s with this email address. Confirm it and your 500 free credits are on your account.": "有人（希望是你）用這個電子郵件地址註冊了 "
    "%(site_name)s。確認後，500 "
    "免費點數即到帳。",
    "Confirm my email address": "確認我的電子郵件地址",
    "Or paste this link into your browser:": "或將此連結貼上到瀏覽器中：",
    "If you did not sign up, ignore this email: nothing happens without the confirmation.": "如果你沒有註冊，請忽略此郵件：未經確認不會發生任何事。",
    "Reset your password": "重設密碼",
    "Someone (hopefully you) asked to reset the password of your %(site_name)s account.": "有人（希望是你）請求重設你的 "
    "%(site_name)s "
    "帳戶密碼。",
    "Choose a new password": "設定新密碼",
    "If you did not ask for this, ignore this email: your password stays as it is.": "如果這不是你的請求，請忽略此郵件：你的密碼保持不變。",
    "Next step: create an API key": "下一步：建立 API 金鑰",
    "A key lets your code call the API and spend your credits. It takes a few seconds.": "有了金鑰，你的程式碼就能呼叫 "
    "API "
    "並使用你的點數。只需幾秒鐘。",
    "Next step: make your first request": "下一步：發出第一個請求",
    "Point any OpenAI SDK at OpenCodex with your key; the quick start has copy-paste examples.": "用你的金鑰讓任意 "
    "OpenAI "
    "SDK "
    "指向 "
    "OpenCodex；快速開始中有可直接複製的範例。",
    "Getting started": "入門",
    "Verify your email address": "驗證電子郵件地址",
    "Create an API key": "建立 API 金鑰",
    "Make your first request": "發出第一個請求",
    "Read the quick start": "閱讀快速開始",
    "No credit activity yet. Your 500 free credits arrive when you verify your email address.": "暫無點數變動。驗證電子郵件地址後，500 "
    "免費點數即到帳。",
    "Profile": "個人資料",
    "Language of the site": "網站語言",
    "Remembered by this browser, and the language of the e-mails we send you.": "由此瀏覽器記住，我們發給你的郵件也使用此語言。",
    "Signing in": "登入方式",
    "Email": "電子郵件",
    "Manage email addresses": "管理電子郵件地址",
    "Set a password": "設定密碼",
    "On": "已開啟",
    "Off": "未開啟",
    "Manage": "管理",
    "Turn on": "開啟",
    "Delete account": "刪除帳戶",
    "Deleting your account revokes all your API keys at once and erases your email address, name, password and two-factor settings. It cannot be undone.": "刪除帳戶會立即吊銷你的所有 "
    "API "
    "金鑰，並清除你的電子郵件地址、姓名、密碼和雙重驗證設定。此操作無法撤銷。",
    "Unused credits are not refunded. Records of payments, credits and usage are kept without your personal data, as the law requires for accounting.": "未使用的點數不予退還。按會計法規要求，付款、點數和用量記錄會保留，但不含你的個人資料。",
    "Type your password to confirm": "輸入密碼以確認",
    "Type your email address (%(email)s) to confirm": "輸入你的電子郵件地址（%(email)s）以確認",
    "Delete my account": "刪除我的帳戶",
    "Email addresses": "電子郵件地址",
    "Menu": "選單",
    "Sign Out": "登出",
    "Sign In": "登入",
    "Buying credits is not available at the moment. Your balance and API keys keep working; please check back later.": "目前暫時無法購買點數。你的餘額和 "
    "API "
    "金鑰照常可用，請稍後再來。",
    "For operators: top-ups are off on this server because Stripe is not configured (STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET).": "維運提示：此伺服器未設定 "
    "Stripe（STRIPE_SECRET_KEY "
    "和 "
    "STRIPE_WEBHOOK_SECRET），因此儲值已關閉。",
    "You receive this email because of your %(site_name)s account.": "你收到這封郵件，是因為你有 %(site_name)s 帳戶。",
    "created": "建立於",
    "“%(name)s” (<code>%(masked)s</code>) is already rotated: its replacement is <code>%(new)s</code>.": "“%(name)s”（<code>%(masked)s</code>）已輪換，替代它的金鑰是 "
    "<code>%(new)s</code>。",
    "The old key keeps working until %(when)s (UTC), then stops.": "舊金鑰在 %(when)s（UTC）之前仍可使用，之後失效。",
    "To stop it sooner, revoke it.": "如需提前停用，請吊銷它。",
    "See the new key": "檢視新金鑰",
    "“%(name)s” (<code>%(masked)s</code>) no longer works, so there is nothing to rotate. Create a new key instead.": "“%(name)s”（<code>%(masked)s</code>）已失效，無需輪換。請建立一個新金鑰。",
    "Change time zone": "更改時區",
    "Last 7 days": "最近 7 天",
    "No request of yours has the id “%(id)s”.": "你的請求中沒有 ID 為“%(id)s”的請求。",
    "You": "你",
    "Assistant": "助手",
    "System": "系統",
    "Thinking": "思考過程",
    "Streaming…": "正在輸出…",
    "Stopped.": "已停止。",
    "Waiting for the model…": "正在等待模型…",
    "Up to %(n)s tokens for this model.": "此模型最多 %(n)s 個 token。",
    "%(prompt)s prompt + %(completion)s completion tokens": "輸入 %(prompt)s + 輸出 %(completion)s 個 "
    "token",
    "%(n)s cached": "快取命中 %(n)s",
    "%(n)s reasoning": "推理 %(n)s",
    "%(credits)s credits": "%(credits)s 點數",
    "No usage was reported.": "未報告用量。",
    "Details": "詳情",
    "The answer was cut off before it ended.": "回答在結束前被中斷。",
    "Write a message first.": "請先輸入訊息。",
    "Out of credits": "點數不足",
    "Too many requests": "請求過於頻繁",
    "Try again in %(n)s s.": "請在 %(n)s 秒後重試。",
    "The request was refused": "請求被拒絕",
    "Error %(status)s": "錯誤 %(status)s",
    "The connection to the playground was lost.": "與試驗場的連線已斷開。",
    "Send JSON.": "請傳送 JSON。",
    "The playground could not reach the API. Try again in a moment.": "試驗場無法連線 API，請稍後重試。",
    "The API answered with status %(status)s.": "API 返回了狀態碼 %(status)s。",
    "Playground": "試驗場",
    "demo": "演示",
    "Try it in the playground": "在試驗場中試用",
    "On this server the model is answered by the built-in demo model: its replies are canned, its tokens and charges are real.": "在此伺服器上，該模型由內建演示模型應答：回覆是預設的，但 "
    "token "
    "數和扣費是真實的。",
    "Prices per 1M tokens": "每 100 萬 token 價格",
    "Input": "輸入",
    "Cached input": "快取輸入",
    "Cache write": "快取寫入",
    "Output": "輸出",
    "Per request": "每次請求",
    "Limits": "限制",
    "tokens": "token",
    "Family": "系列",
    "Recent traffic": "近期流量",
    "Requests to this model from every account through OpenCodex.": "所有帳戶透過 OpenCodex 對此模型發出的請求。",
    "Median latency": "延遲中位數",
    "Median time to first token": "首 token 時間中位數",
    "Requests per day (UTC)": "每日請求數（UTC）",
    "Medians are of successful requests, from at most the latest %(limit)s; counts refresh every hour.": "中位數取自成功的請求，最多取最近 "
    "%(limit)s "
    "個；計數每小時重新整理。",
    "Call it": "呼叫方式",
    "Base URL <code>%(base_url)s</code>, model <code>%(model_id)s</code>; any OpenAI-compatible client works.": "Base "
    "URL "
    "為 "
    "<code>%(base_url)s</code>，模型為 "
    "<code>%(model_id)s</code>；任何相容 "
    "OpenAI "
    "的客戶端都可以使用。",
    "Every model you can call through one endpoint. Prices are per million tokens, in credits (1 credit = US$0.01).": "透過同一個端點即可呼叫的全部模型。價格按每 "
    "100 "
    "萬 "
    "token "
    "計，單位為點數（1 "
    "點數 "
    "= "
    "0.01 "
    "美元）。",
    "Open the playground": "開啟試驗場",
    "Answered by the built-in demo model on this server": "由此伺服器的內建演示模型應答",
    "Models marked “demo” are answered by the built-in demo model on this server (no provider key is configured for them): the replies are canned, the tokens and charges are real.": "標記為“演示”的模型由此伺服器的內建演示模型應答（未為其設定提供商金鑰）：回覆是預設的，但 "
    "token "
    "數和扣費是真實的。",
    "Try any model from the browser. Requests run under your account through the same API as your code, with a short-lived key named “Playground”: they are charged in credits and appear in your request log.": "在瀏覽器中試用任意模型。請求以你的帳戶、透過與你的程式碼相同的 "
    "API "
    "發出，使用名為“Playground”的短期金鑰：按點數扣費，並會出現在你的請求日誌中。",
    "Models and prices": "模型與價格",
    "The playground needs JavaScript.": "試驗場需要啟用 JavaScript。",
    "Settings": "設定",
    "Prices and traffic": "價格與流量",
    "Temperature": "溫度（temperature）",
    "0 to 2; lower is more focused.": "0 到 2；越低越穩定集中。",
    "Max tokens": "最大 token 數",
    "System prompt": "系統提示詞",
    "You are a helpful assistant.": "你是一個樂於助人的助手。",
    "Conversation": "對話",
    "Write a message and send it: the answer streams in here, with its tokens and cost.": "輸入訊息並傳送：回答會以串流顯示在這裡，並附上 "
    "token "
    "數和費用。",
    "Message": "訊息",
    "Ask anything… (Ctrl+Enter sends)": "隨便問點什麼…（Ctrl+Enter 傳送）",
    "Send": "傳送",
    "Stop": "停止",
    "Clear conversation": "清空對話",
    "View code": "檢視程式碼",
    "The same request in code": "用程式碼發出同樣的請求",
    "Replace <code>sk-live-YOUR_API_KEY</code> with one of your API keys (the playground's own key is never shown).": "請將 "
    "<code>sk-live-YOUR_API_KEY</code> "
    "替換為你的某個 "
    "API "
    "金鑰（試驗場自己的金鑰從不顯示）。",
    "Request": "請求",
    "deleted": "已刪除",
    "Protocol": "協定",
    "Streamed": "串流",
    "yes": "是",
    "no": "否",
    "Tokens and cost": "token 與費用",
    "of which cached": "其中快取命中",
    "of which written to the cache": "其中寫入快取",
    "of which reasoning": "其中推理",
    "Cost": "費用",
    "Time to first token": "首 token 時間",
    "The provider reported no usage for this request: its tokens were counted by OpenCodex.": "提供商未報告此請求的用量：token "
    "數由 "
    "OpenCodex "
    "統計。",
    "Find a request by its id": "按 ID 查詢請求",
    "Find": "查詢",
    "The x-request-id header of an API response.": "即 API 回應的 x-request-id 回應標頭。",
    "Your session has ended: sign in again to use the playground.": "你的會話已結束：請重新登入後再使用試驗場。",
    "Keep prompts and answers": "保留提示詞與回答",
    "Off: not stored (the default)": "關閉：不儲存（預設）",
    "1 day": "1 天",
    "When on, the prompt and the answer of each API request are stored and shown on the request's page, then deleted after this many days. Turning it off deletes what was kept.": "開啟後，每個 "
    "API "
    "請求的提示詞與回答會被儲存並顯示在該請求的頁面上，到期後刪除。關閉時會刪除已儲存的內容。",
    "Prompts and answers of new API requests are kept for %(days)s days.": "新的 API 請求的提示詞與回答將保留 "
    "%(days)s 天。",
    "Prompts and answers are no longer kept; kept ones are deleted.": "不再保留提示詞與回答；已保留的內容已刪除。",
    "Prompts and answers": "提示詞與回答",
    "By default OpenCodex does not store what you send to the API or what the model answers: only the request's model, tokens, cost and timing. Turn this on to see them on each request's page (useful while debugging an agent); anyone who can sign in to this account can then read them.": "預設情況下，OpenCodex "
    "不儲存你傳送給 "
    "API "
    "的內容或模型的回答，只記錄請求的模型、token、費用和耗時。開啟後可在每個請求的頁面上檢視它們（除錯AI "
    "代理時很有用）；任何能登入此帳戶的人都能讀到這些內容。",
    "Prompt and answer": "提示詞與回答",
    "Kept because your account keeps prompts and answers; deleted on %(when)s.": "因你的帳戶開啟了保留提示詞與回答而儲存；將於 "
    "%(when)s 刪除。",
    "Answer": "回答",
    "Nothing kept for this request: it was made before you turned keeping on, or its days are over.": "此請求沒有儲存內容：它發生在你開啟保留之前，或保留期已過。",
    "Prompts and answers are not stored.": "提示詞與回答不會被儲存。",
    "Keep them for a few days": "保留幾天",
    "Price changed on %(date)s.": "價格已於 %(date)s 調整。",
    "Enter a whole amount, e.g. 20.": "請輸入整數金額，例如 20。",
    "Whole amounts; each %(unit)s buys %(rate)s credits.": "整數金額；每 %(unit)s 兌換 %(rate)s 點數。",
    "Choose one of the packs.": "請選擇一個方案。",
    "This field is required.": "這個欄位是必填項。",
    "Choose from %(low)s to %(high)s.": "請選擇 %(low)s 至 %(high)s 之間的金額。",
    "Currency": "幣別",
    "Redemption code": "兌換碼",
    "card": "卡片",
    "Alipay": "支付寶",
    "WeChat Pay": "微信支付",
    "That is not a redemption code: codes start with ocx-redeem- and are 41 characters long. Check that it was copied completely.": "這不是兌換碼：兌換碼以 "
    "ocx-redeem- "
    "開頭，共 "
    "41 "
    "個字元。請檢查是否完整複製。",
    "This code does not exist. Check that it was copied completely.": "此兌換碼不存在。請檢查是否完整複製。",
    "This code has already been used.": "此兌換碼已被使用。",
    "You have already redeemed this code.": "你已兌換過此兌換碼。",
    "This code has expired.": "此兌換碼已過期。",
    "This code has been withdrawn and can no longer be redeemed.": "此兌換碼已被撤回，無法再兌換。",
    "You have already redeemed a code of this batch: one per account.": "你已兌換過此批次的兌換碼：每個帳戶限兌一個。",
    "Too many attempts with codes that did not work. Please try again later.": "無效兌換碼的嘗試次數過多。請稍後再試。",
    "%(some)s or %(last)s": "%(some)s或%(last)s",
    "list separator\x04, ": "、",
    "Code redeemed: %(credits)s credits were added to your balance.": "兌換成功：%(credits)s 點數已新增到你的餘額。",
    "Your payment is being confirmed. The credits are added as soon as Stripe tells us the money arrived; this page shows the outcome.": "你的付款正在確認中。Stripe "
    "通知我們款項到帳後，點數會立即新增；本頁面會顯示結果。",
    "The payment failed: %(reason)s": "付款失敗：%(reason)s",
    "Prices in": "價格幣別",
    "Change currency": "切換幣別",
    "Pay in %(currency_name)s by %(methods)s.": "以 %(currency_name)s 支付，可使用%(methods)s。",
    "Alipay and WeChat Pay may take a moment to confirm: the credits are added once Stripe tells us the money arrived, and the payment history below shows where it stands.": "支付寶和微信支付可能需要一點時間確認：Stripe "
    "通知我們款項到帳後即新增點數，下方的付款記錄會顯示進度。",
    "Another amount (%(custom_low)s–%(custom_high)s)": "其他金額（%(custom_low)s–%(custom_high)s）",
    "Auto top-up works with a card only, charged in US dollars: Alipay and WeChat Pay cannot be saved for automatic charges, so use them for top-ups you make yourself.": "自動儲值僅支援卡片，以美元扣款：支付寶和微信支付無法儲存用於自動扣款，請在手動儲值時使用它們。",
    "Redeem a code": "兌換碼",
    "A redemption code (from a reseller or a promotion) adds its credits to your balance at once. Each code works once.": "兌換碼（來自經銷商或推廣活動）會立即將點數新增到你的餘額。每個兌換碼只能使用一次。",
    "Redeem": "兌換",
    "Paid with": "支付方式",
    "%(amount)s refunded": "已退款 %(amount)s",
    "Webhooks": "Webhook",
    "Enter the URL that receives the webhooks.": "請輸入接收 Webhook 的 URL。",
    "The URL may have at most %(max)s characters.": "URL 最多 %(max)s 個字元。",
    "The URL may not contain spaces or control characters.": "URL 不能包含空格或控制字元。",
    "This is not a valid URL.": "這不是有效的 URL。",
    "The URL must start with https:// (or http://).": "URL 必須以 https://（或 http://）開頭。",
    "The URL may not contain a user name or password.": "URL 不能包含使用者名稱或密碼。",
    "The URL needs a host name.": "URL 需要包含主機名。",
    "The host name %(host)s could not be resolved.": "無法解析主機名 %(host)s。",
    "%(host)s is at %(address)s: webhooks are only sent to public internet addresses (not loopback, private, link-local or reserved ones).": "%(host)s "
    "的位址是 "
    "%(address)s：Webhook "
    "只會傳送到公開網路位址（不會傳送到迴環、私有、鏈路本地或保留位址）。",
    "Endpoint URL": "端點 URL",
    "An https:// address on the public internet. Redirects are not followed.": "公網上的 https:// "
    "地址。不會跟隨重定向。",
    "Description": "描述",
    "Optional. So you can tell your endpoints apart.": "選填。便於區分你的各個端點。",
    "Events": "事件",
    "Choose at least one event.": "請至少選擇一個事件。",
    "The balance fell below your low-balance warning level.": "餘額低於你的低餘額提醒值。",
    "This month's usage passed 50 %, 80 % or 100 % of the monthly budget.": "本月用量越過月度預算的 50 %、80 % 或 "
    "100 %。",
    "An API key was created (also the successor of a rotated key).": "建立了 API 金鑰（包括輪換產生的新金鑰）。",
    "An API key was rotated: it stops working after its grace period.": "API 金鑰被輪換：寬限期結束後停止工作。",
    "An API key was revoked.": "API 金鑰被吊銷。",
    "An API key reached its expiry time.": "API 金鑰到達過期時間。",
    "A top-up (or an automatic top-up) was paid and credited.": "一次儲值（或自動儲值）已支付，點數已到帳。",
    "A payment was refunded and its credits taken back.": "一筆付款已退款，相應點數已扣回。",
    "An automatic top-up could not charge the saved card.": "自動儲值無法從儲存的卡扣款。",
    "Turned off by you": "已由你關閉",
    "Turned off: its deliveries kept failing for a day": "已關閉：投遞持續失敗了一天",
    "Pending": "等待中",
    "Delivered": "已送達",
    "Cancelled": "已取消",
    "Unknown event types: %(types)s.": "未知的事件類型：%(types)s。",
    "You have %(count)s endpoints, the most allowed is %(max)s. Delete one you no longer use first.": "你已有 "
    "%(count)s "
    "個端點，最多允許 "
    "%(max)s "
    "個。請先刪除一個不再使用的端點。",
    "Turn the endpoint on first: an endpoint that is off receives nothing.": "請先開啟該端點：關閉的端點不會收到任何事件。",
    "The endpoint is on.": "端點已開啟。",
    "The endpoint is off.": "端點已關閉。",
    "A test event was queued: its delivery shows in the log.": "測試事件已加入佇列：投遞結果會顯示在日誌中。",
    "The endpoint %(url)s was deleted.": "端點 %(url)s 已刪除。",
    "Delete endpoint": "刪除端點",
    "Delete this endpoint?": "刪除這個端點？",
    "<code>%(url)s</code> will receive no more events; its waiting events and its delivery log are deleted. This cannot be undone.": "<code>%(url)s</code> "
    "將不再接收事件；等待中的事件和投遞日誌都會被刪除。此操作無法撤銷。",
    "Webhook endpoint": "Webhook 端點",
    "All endpoints": "全部端點",
    "OpenCodex POSTs a signed JSON event to your endpoints when something happens to your account: a low balance, a budget level passed, a key created, rotated, revoked or expired, a payment or a refund, a failed automatic top-up. Signatures follow Standard Webhooks.": "當你的帳戶發生變化時，OpenCodex "
    "會向你的端點 "
    "POST "
    "一個簽名的 "
    "JSON "
    "事件：餘額不足、越過預算檔位、金鑰被建立、輪換、吊銷或過期、付款或退款、自動儲值失敗。簽名遵循 "
    "Standard "
    "Webhooks "
    "規範。",
    "How to verify them": "如何驗證簽名",
    "Open %(url)s: send a test event, see its deliveries": "開啟 %(url)s：傳送測試事件，檢視投遞記錄",
    "Your endpoints": "你的端點",
    "Endpoint": "端點",
    "Last delivery": "最近投遞",
    "failed": "失敗",
    "none yet": "暫無",
    "%(count)s waiting": "%(count)s 個等待中",
    "Add an endpoint": "新增端點",
    "Add your first endpoint": "新增你的第一個端點",
    "You have %(endpoints_max)s endpoints, the most allowed. Delete one to add another.": "你已有 "
    "%(endpoints_max)s "
    "個端點，已達上限。刪除一個後才能新增新的。",
    "Add endpoint": "新增端點",
    "This endpoint was turned off because its deliveries kept failing for a day; its waiting events were dropped. Fix the receiver, turn it on and send a test event.": "由於投遞持續失敗了一天，此端點已被關閉，等待中的事件已被丟棄。請修復接收端，然後開啟端點並傳送測試事件。",
    "On: receives new events": "開啟：接收新事件",
    "Signing secret": "簽名金鑰",
    "(shown once, when created or rolled)": "（僅在建立或輪換時顯示一次）",
    "Send test event": "傳送測試事件",
    "Turn off": "關閉",
    "Roll the secret? The new one is shown once; the old one keeps signing beside it for 24 hours.": "輪換金鑰？新金鑰只顯示一次；舊金鑰在 "
    "24 "
    "小時內仍會同時簽名。",
    "Roll secret": "輪換金鑰",
    "Delete…": "刪除…",
    "Deliveries": "投遞記錄",
    "Refresh": "重新整理",
    "The latest %(log_limit)s attempts, newest first.": "最近 %(log_limit)s 次嘗試，最新的在前。",
    "Waiting to be delivered: %(pending)s (in order: a failed delivery is retried with backoff for 24 hours, and the ones after it wait).": "等待投遞：%(pending)s "
    "個（按順序：失敗的投遞會在 "
    "24 "
    "小時內按退避間隔重試，其後的投遞會等待它）。",
    "Response": "回應",
    "next try %(when)s": "下次嘗試 %(when)s",
    "Nothing sent yet. Send a test event to try the endpoint.": "尚未傳送任何內容。傳送一個測試事件來試試這個端點。",
    "The endpoint's signing secret": "端點的簽名金鑰",
    "Your receiver verifies each request's signature with it. If you lose it, roll the secret.": "你的接收端用它驗證每個請求的簽名。如果丟失，請輪換金鑰。",
    "Routing": "路由",
    "Served by": "服務方",
    "Upstream attempts": "上游嘗試",
    "[OpenCodex] Your credit balance is low": "[OpenCodex] 您的點數餘額不足",
    "Your OpenCodex balance is %(balance)s credits, below your warning level of %(threshold)s credits.": "您的 "
    "OpenCodex "
    "餘額為 "
    "%(balance)s "
    "點數，低於您設定的提醒值 "
    "%(threshold)s "
    "點數。",
    "Top up at %(url)s to keep your API keys working.": "請前往 %(url)s 儲值，以免 API 金鑰停止工作。",
    "[OpenCodex] %(level)s%% of your monthly budget used": "[OpenCodex] 已用掉每月預算的 %(level)s%%",
    "This month your API usage has cost %(spent)s credits, %(level)s%% of your monthly budget of %(budget)s credits.": "本月您的 "
    "API "
    "用量已花費 "
    "%(spent)s "
    "點數，為每月預算 "
    "%(budget)s "
    "點數的 "
    "%(level)s%%。",
    "API requests are refused until next month (UTC) or until you raise the budget.": "在下個月（UTC）之前或您提高預算之前，API "
    "請求將被拒絕。",
    "Change the budget at %(url)s": "在 %(url)s 修改預算",
    "[OpenCodex] Your automatic top-up failed": "[OpenCodex] 自動儲值失敗",
    "We could not charge your saved card (%(brand)s ending %(last4)s) for the automatic top-up of %(amount)s: %(error)s": "我們無法從您儲存的卡片（%(brand)s，尾號 "
    "%(last4)s）扣款進行 "
    "%(amount)s "
    "的自動儲值：%(error)s",
    "Auto top-up is now turned off.": "自動儲值現已關閉。",
    "We will try again later.": "我們稍後會再試。",
    "Fix it by saving a card again at %(url)s": "請在 %(url)s 重新儲存卡片來解決",
    "[OpenCodex] A webhook endpoint was turned off": "[OpenCodex] 一個 Webhook 端點已被關閉",
    "Deliveries to your webhook endpoint\n\n    %(url)s\n\nfailed for %(hours)s hours (%(attempts)s attempts; the last one: %(last)s), so it was turned off and its pending events were dropped.": "向您的 "
    "Webhook "
    "端點\n"
    "\n"
    "    "
    "%(url)s\n"
    "\n"
    "的投遞已連續失敗 "
    "%(hours)s "
    "小時（%(attempts)s "
    "次嘗試；最後一次：%(last)s），因此它已被關閉，等待中的事件已被丟棄。",
    "Fix the receiver, then turn the endpoint back on (and send a test event) at %(page)s": "請修復接收端，然後在 "
    "%(page)s "
    "重新開啟端點（並傳送一個測試事件）",
    "Spend limit": "消費上限",
    "Optional. The most this key may spend in each window, in credits; the window starts again at midnight in your time zone.": "選填。此金鑰在每個週期內最多可消費的點數；週期在你所在時區的零點重新開始。",
    "Spend limit window": "消費上限週期",
    "A day, a week from Monday, or a calendar month.": "一天、從週一開始的一週，或一個自然月。",
    "Tokens per minute": "每分鐘 token 數",
    "Optional. Prompt and output tokens of the requests that ended in the current minute; a request is refused with 429 once they reach it.": "選填。目前一分鐘內已結束請求的提示與輸出 "
    "token "
    "數；達到此值後，請求會以 "
    "429 "
    "被拒絕。",
    "Allowed models": "允許的模型",
    "Optional. Model ids, separated by commas or new lines; other models are refused and not listed. Empty: every model.": "選填。模型 "
    "ID，用逗號或換行分隔；其他模型會被拒絕且不會列出。留空：所有模型。",
    "Allowed IP addresses": "允許的 IP 地址",
    "Optional. IPv4 or IPv6 addresses and CIDR networks, separated by commas or new lines; requests from anywhere else are refused. Empty: any address.": "選填。IPv4 "
    "或 "
    "IPv6 "
    "地址及 "
    "CIDR "
    "網段，用逗號或換行分隔；來自其他地址的請求會被拒絕。留空：任何地址。",
    "At most %(max)s tokens per minute.": "每分鐘最多 %(max)s 個 token。",
    "Choose the window the spend limit is for.": "請選擇消費上限適用的週期。",
    "Optional. The key works until the end of this day (UTC); clear it to keep the key working.": "選填。金鑰可用至該日結束（UTC）；清空則金鑰一直可用。",
    "A key may name at most %(n)s models.": "一個金鑰最多可指定 %(n)s 個模型。",
    "A model id has at most 100 characters.": "模型 ID 最多 100 個字元。",
    "No such model: %(models)s. Use the ids GET /v1/models lists.": "沒有這個模型：%(models)s。請使用 GET "
    "/v1/models 列出的 ID。",
    "“%(item)s” is not an IP address or network; write e.g. 203.0.113.7, 10.0.0.0/8 or 2001:db8::/32.": "“%(item)s”不是 "
    "IP "
    "地址或網段；請寫成例如 "
    "203.0.113.7、10.0.0.0/8 "
    "或 "
    "2001:db8::/32。",
    "“%(item)s” has bits set after the prefix; the network is %(network)s.": "“%(item)s”在字首之後還有置位；該網段應為 "
    "%(network)s。",
    "A key may name at most %(n)s addresses or networks.": "一個金鑰最多可指定 %(n)s 個地址或網段。",
    "per day": "每天",
    "per week": "每週",
    "per month": "每月",
    "%(limit)s per day (%(spent)s spent today)": "每天 %(limit)s（今天已消費 %(spent)s）",
    "%(limit)s per week (%(spent)s spent this week)": "每週 %(limit)s（本週已消費 %(spent)s）",
    "%(limit)s per month (%(spent)s spent this month)": "每月 %(limit)s（本月已消費 %(spent)s）",
    "starts again %(when)s (%(zone)s)": "於 %(when)s（%(zone)s）重新開始",
    "no limit": "不限",
    "every model": "所有模型",
    "any address": "任何地址",
    "Name, limits and guardrails": "名稱、限額與防護",
    "Guardrails: models, IP addresses, spend per window, tokens per minute": "防護：模型、IP 地址、每週期消費、每分鐘 "
    "token 數",
    "Referral commission": "推薦獎勵",
    "Invite friends": "邀請好友",
    "Share your invite link. For %(months)s months after someone signs up through it, you earn %(percent)s %% of every top-up they pay for, as credits (at most %(cap)s credits a month). Free credits and redemption codes earn nothing; a refunded or disputed top-up takes its commission back.": "分享你的邀請連結。有人透過它註冊後的 "
    "%(months)s "
    "個月內，對方每一筆已支付的儲值，你都可獲得 "
    "%(percent)s "
    "%% "
    "的點數獎勵（每月最多 "
    "%(cap)s "
    "點數）。贈送點數和兌換碼不計獎勵；被退款或發生爭議的儲值會收回其獎勵。",
    "Your invite link earns no new commissions: it was suspended.": "你的邀請連結已被暫停，不再產生新的獎勵。",
    "Your invite link": "你的邀請連結",
    "Invited: %(invited)s. Earned: %(earned)s credits.": "已邀請：%(invited)s 人。已獲得：%(earned)s 點數。",
    "Invitee": "受邀人",
    "Joined": "註冊時間",
    "Earns until": "獎勵截止",
    "Earned": "已獲得",
    "Nobody has signed up through your link yet.": "還沒有人透過你的連結註冊。",
    "Credits; one e-mail when the balance falls below, 0 turns it off.": "點數；餘額低於此值時傳送一封郵件，0 表示關閉。",
    "Credits per calendar month (UTC); 0 stops all API usage, empty for no limit.": "每個自然月（UTC）的點數；0 "
    "表示停止所有 API "
    "呼叫，留空表示不限。",
    "Credits.": "點數。",
    "There is no checkout to confirm; your payments are listed below.": "沒有需要確認的付款；你的付款記錄列在下方。",
    "This month's API usage (%(spent)s credits) is already at or above this budget: the API refuses requests until the next month (UTC) or until you raise it.": "本月 "
    "API "
    "用量（%(spent)s "
    "點數）已達到或超過此預算：在下個月（UTC）或你提高預算之前，API "
    "會拒絕請求。",
    "Monthly budget reached": "已達到每月預算",
    "Raise the budget": "提高預算",
    "Key credit limit reached": "金鑰已達點數上限",
    "Raise the key's limit": "提高金鑰上限",
    "Account suspended": "帳戶已暫停",
    "Your account is suspended.": "你的帳戶已暫停。",
    "The API refuses every request while a payment dispute is open. Please contact support to restore access.": "付款爭議處理期間，API "
    "會拒絕所有請求。請聯絡客服恢復存取。",
    "Monthly budget reached.": "已達到每月預算。",
    "This month's API usage is %(spent)s of your %(budget)s credits budget: the API refuses requests until the next month (UTC) or until you raise the budget.": "本月 "
    "API "
    "用量為 "
    "%(spent)s，預算為 "
    "%(budget)s "
    "點數：在下個月（UTC）或你提高預算之前，API "
    "會拒絕請求。",
    "Keys at their credit limit: %(n)s.": "已達點數上限的金鑰：%(n)s 個。",
    "The API refuses requests made with them.": "使用這些金鑰的請求會被 API 拒絕。",
    "Live: requests are charged as they finish.": "實時：每個請求完成時即扣費。",
    "Last 7 days: %(week)s credits": "最近 7 天：%(week)s 點數",
    "Usage charges appear here within a minute of each request; the balance above already includes them.": "用量扣費會在每個請求後一分鐘內出現在這裡；上方餘額已包含這些扣費。",
    'Times are shown in %(zone)s (<a href="%(settings_url)s">change</a>).': "時間按 %(zone)s 顯示（<a "
    'href="%(settings_url)s">更改</a>）。',
    "Reached: the API refuses requests until the next month (UTC) or until you raise the budget.": "已達到：在下個月（UTC）或你提高預算之前，API "
    "會拒絕請求。",
    "+ %(credits)s per request (%(usd)s)": "每次請求另加 %(credits)s（%(usd)s）",
    "cache write %(credits)s (%(usd)s)": "快取寫入 %(credits)s（%(usd)s）",
    "Used by the playground": "由試驗場使用",
    "Keys revoked more than 30 days ago, not listed: %(n)s.": "吊銷超過 30 天、未列出的金鑰：%(n)s 個。",
    "Show revoked keys": "顯示已吊銷的金鑰",
    "The old key keeps working until %(when)s (%(zone)s), then stops.": "舊金鑰在 "
    "%(when)s（%(zone)s）之前仍可使用，之後停用。",
    "Audit log": "審計日誌",
    "API key created": "建立了 API 金鑰",
    "API key rotated": "輪換了 API 金鑰",
    "API key revoked": "吊銷了 API 金鑰",
    "API key settings changed": "更改了 API 金鑰設定",
    "Monthly budget changed": "每月預算已更改",
    "Card saved": "儲存了卡片",
    "Card removed": "移除了卡片",
    "Auto top-up changed": "更改了自動儲值",
    "Top-up credited": "儲值已入帳",
    "Refund taken back": "退款已扣回",
    "Credits granted or deducted by staff": "工作人員發放或扣除了點數",
    "Settings changed": "更改了設定",
    "API access suspended": "API 存取已暫停",
    "API access resumed": "API 存取已恢復",
    "Account deactivated": "帳戶已停用",
    "Account reactivated": "帳戶已重新啟用",
    "Account deleted": "帳戶已刪除",
    "Member invited": "邀請了成員",
    "Member's role changed": "更改了成員角色",
    "Member removed": "移除了成員",
    "Spend window": "消費週期",
    "Successor": "繼任金鑰",
    "Rotated from": "輪換自",
    "Threshold": "門檻",
    "Card": "卡片",
    "Reason": "原因",
    "Suspended": "已暫停",
    "Profile name": "資料名稱",
    "Keep prompts and answers (days)": "保留提示詞和回答（天）",
    "E-mail": "電子郵件",
    "Role": "角色",
    "Action": "操作",
    "All actions": "全部操作",
    "The start date is after the end date.": "開始日期晚於結束日期。",
    "Time (UTC)": "時間（UTC）",
    "Actor": "操作者",
    "IP address": "IP 地址",
    "Code": "程式碼",
    "Target": "物件",
    "Changes": "變更",
    "Who changed what on this account, and when: API keys, budget, card, auto top-up, top-ups and refunds, settings, and staff actions. Events cannot be changed or deleted.": "誰在何時對此帳戶做了什麼更改：API "
    "金鑰、預算、卡片、自動儲值、儲值和退款、設定，以及工作人員的操作。事件無法被修改或刪除。",
    "Showing every event.": "顯示全部事件。",
    "Events: %(total)s": "事件：%(total)s",
    "Export CSV": "匯出 CSV",
    "Pages": "分頁",
    "Newer": "較新",
    "Page %(number)s of %(total)s": "第 %(number)s 頁，共 %(total)s 頁",
    "Older": "較早",
    "No events match.": "沒有匹配的事件。",
    "Operating OpenCodex": "營運 OpenCodex",
    "Anthropic Messages": "Anthropic Messages",
    "Cost split": "費用構成",
    "Split at the model’s current prices, scaled to what was charged (its prices changed since).": "按模型目前價格拆分，並按實際扣費等比換算（其價格此後有變動）。",
    "Times in %(tz)s.": "時間以 %(tz)s 顯示。",
    "Split at the current prices, scaled to what was charged": "按目前價格拆分，並按實際扣費等比換算",
    "Download CSV (these filters)": "下載 CSV（按目前篩選）",
    "All protocols": "全部協定",
    "Responses": "Responses",
    "Copied": "已複製",
    "Copy the request id": "複製請求 ID",
    "Cache writes": "快取寫入",
    "Reasoning": "推理",
    "in": "輸入",
    "cached": "快取",
    "cache write": "快取寫入",
    "out": "輸出",
    "reasoning": "推理",
    "per request": "按次",
    "Search": "搜尋",
    "Any length": "不限長度",
    "at least %(n)s": "至少 %(n)s",
    "Any price": "不限價格",
    "at most %(price)s": "不超過 %(price)s",
    "Reads": "可讀取",
    "Any input": "不限輸入",
    "Images": "圖片",
    "Audio": "音訊",
    "Files": "檔案",
    "Sort by": "排序",
    "Price: lowest first": "價格：從低到高",
    "Price: highest first": "價格：從高到低",
    "Context: longest first": "上下文：從長到短",
    "Latency: fastest first": "延遲：從快到慢",
    "Name, provider or what it is good at": "名稱、提供商或擅長的任務",
    "Clear": "清除",
    "Showing %(n)s of %(total)s models": "顯示 %(n)s / %(total)s 個模型",
    "Input price / 1M": "輸入價格 / 百萬",
    "Native protocol": "原生協定",
    "Any protocol": "不限協定",
    "OpenAI Responses": "OpenAI Responses",
    "All providers": "全部提供商",
    "Show models": "顯示模型",
    "No requests in the last day": "最近一天沒有請求",
    "No model matches these filters.": "沒有符合這些篩選條件的模型。",
    "Clear the filters": "清除篩選",
    "Spend over the last %(days)s days": "最近 %(days)s 天的花費",
    "Usage of this key": "此金鑰的用量",
    "%(credits)s credits over %(requests)s requests": "%(requests)s 次請求共 %(credits)s 點數",
    "Credits spent per day": "每日花費的點數",
    "No spend in this period yet.": "此期間還沒有花費。",
    "Recent requests": "最近的請求",
    "All requests of this key": "此金鑰的全部請求",
    "No requests with this key in the last 30 days.": "最近 30 天沒有使用此金鑰的請求。",
    "Tokens in and out": "輸入與輸出 token",
    "Input and output tokens per period": "每個時段的輸入與輸出 token",
    "requests": "請求",
    "Input tokens": "輸入 token",
    "Output tokens": "輸出 token",
    "Total": "合計",
    "Your monthly spending cap is reached": "已達到您的每月消費上限",
    "or": "或",
    "Continue with %(name)s": "使用 %(name)s 繼續",
    "Connected accounts": "已關聯的帳號",
    "At least 8 characters, not only digits, not a common password, not like your email.": "至少 8 "
    "個字元，不能全是數字，不能是常見密碼，不能與電子郵件相似。",
    "We sent a new link to %(email)s.": "我們已向 %(email)s 傳送了新的連結。",
    "Terms of Service": "服務條款",
    "Privacy Policy": "隱私政策",
    'Already have an account? Then please <a href="%(login_url)s">sign in</a>.': "已有帳戶？請<a "
    'href="%(login_url)s">登入</a>。',
    'By signing up you agree to the <a href="%(terms_url)s">Terms</a> and the <a href="%(privacy_url)s">Privacy Policy</a>.': "註冊即表示您同意<a "
    'href="%(terms_url)s">服務條款</a>和<a '
    'href="%(privacy_url)s">隱私政策</a>。',
    "We sent a link to <strong>%(email)s</strong>. Open it to finish signing up; it works for three days. Not in your inbox? Look in the spam folder.": "我們已向 "
    "<strong>%(email)s</strong> "
    "傳送了一個連結。開啟它即可完成註冊，連結三天內有效。收件箱裡沒有？請檢視垃圾郵件資料夾。",
    "We did not send another email just now: one went to <strong>%(email)s</strong> a few minutes ago, and its link still works. Look for it, in the spam folder too.": "我們這次沒有再傳送郵件：幾分鐘前已向 "
    "<strong>%(email)s</strong> "
    "發過一封，其中的連結仍然有效。請查詢它，也請看看垃圾郵件資料夾。",
    "Another email can be sent in %(seconds)s s.": "%(seconds)s 秒後可再次傳送。",
    "Use this address": "使用這個地址",
    "We have sent you an email with a link. Open it to finish signing up. Not in your inbox? Look in the spam folder.": "我們已向您傳送了一封帶連結的郵件。開啟連結即可完成註冊。收件箱裡沒有？請檢視垃圾郵件資料夾。",
    'Nothing after a few minutes? <a href="%(support_url)s">Contact support</a>.': "幾分鐘後仍未收到？<a "
    'href="%(support_url)s">聯絡客服</a>。',
    "Help and legal": "幫助與法律",
    "Support": "客服支援",
    "Terms": "條款",
    "Privacy": "隱私",
    "Write to us at": "請寫信至",
    "We answer within one working day.": "我們會在一個工作日內回覆。",
    "About an API request, quote its request id (the x-request-id header of the response, also on the request's page in the console): it lets us find it at once.": "諮詢某個 "
    "API "
    "請求時，請附上它的請求 "
    "ID（回應的 "
    "x-request-id "
    "頭，也顯示在控制台中該請求的頁面上），方便我們立即找到它。",
    'Many answers are in the <a href="%(docs_url)s">docs</a>, for example what each error code means.': "許多問題的答案都在<a "
    'href="%(docs_url)s">文件</a>中，例如各個錯誤碼的含義。',
    "The part before the @ may have at most 64 characters.": "@ 前面的部分最多 64 個字元。",
    "The right email address": "正確的電子郵件地址",
    "Confirm my email address:": "確認我的電子郵件地址：",
    "Sign Up": "註冊",
    "Get %(credits)s free credits when you verify your email address: enough to try every model.": "驗證電子郵件後即獲贈 "
    "%(credits)s "
    "免費點數，足以試用每一個模型。",
    "Verify Your Email Address": "驗證您的電子郵件地址",
    "Send it again": "重新傳送",
    "Wrong address?": "地址填錯了？",
    'The API refuses every request while a payment dispute is open. Please <a href="%(support_url)s">contact support</a> to restore access.': "付款爭議未解決期間，API "
    "會拒絕所有請求。請<a "
    'href="%(support_url)s">聯絡客服</a>以恢復存取。',
    'Your API access is suspended while a payment dispute is open. Please <a href="%(support_url)s">contact support</a>.': "付款爭議未解決期間，您的 "
    "API "
    "存取已暫停。請<a "
    'href="%(support_url)s">聯絡客服</a>。',
    "Top-up %(amount)s": "儲值 %(amount)s",
    "Refund of %(amount)s": "退款 %(amount)s",
    "Referral commission on a top-up of %(amount)s": "邀請佣金：%(amount)s 的儲值",
    "Referral commission taken back (%(amount)s top-up)": "邀請佣金已收回（%(amount)s 的儲值）",
    "Redemption code …%(last4)s, %(label)s": "兌換碼 …%(last4)s，%(label)s",
    "Payment disputed": "付款發生爭議",
    "Dispute won": "爭議勝訴",
    "Referral commission restored (dispute won)": "邀請佣金已恢復（爭議勝訴）",
    "Auto top-up %(amount)s": "自動儲值 %(amount)s",
    "Get started": "入門",
    "API reference": "API 參考",
    "Guides": "指南",
    "Coding tools": "程式設計工具",
    "Search time zones": "搜尋時區",
    "Search time zones, e.g. Shanghai": "搜尋時區，例如 Shanghai",
    "Use my browser's zone": "使用瀏覽器的時區",
    "More: top_p, stop, seed": "更多：top_p、stop、seed",
    "0 to 1; only the likeliest tokens adding up to this share are drawn from.": "0 到 "
    "1；只從累計機率達到該比例的最可能的 "
    "token 中抽取。",
    "Stop sequences": "停止序列",
    "One per line, at most 4: the answer ends before any of them.": "每行一個，最多 4 個：回答會在其中任何一個出現之前結束。",
    "Seed": "隨機種子",
    "The same seed and settings give the same answer, where the model supports it.": "在模型支援的情況下，相同的種子和設定會得到相同的回答。",
    'Point <a href="%(claude_url)s">Claude Code</a> (Anthropic\'s Messages API) or <a href="%(codex_url)s">Codex CLI</a> (OpenAI\'s Responses API) at OpenCodex and use any model with them.': "把 "
    "<a "
    'href="%(claude_url)s">Claude '
    "Code</a>（Anthropic "
    "Messages "
    "API）或 "
    "<a "
    'href="%(codex_url)s">Codex '
    "CLI</a>（OpenAI "
    "Responses "
    "API）指向 "
    "OpenCodex，即可搭配任意模型使用。",
    "Claude Code and Codex": "Claude Code 與 Codex",
    "Copy code": "複製程式碼",
    "Compare with": "對比模型",
    "No second model": "不對比",
    "The same message to a second model, side by side, each with its cost and time.": "把同一條訊息發給第二個模型，並排顯示，各自附上費用和耗時。",
    "We did not send another email just now: one went to <strong>%(email)s</strong> in the last few minutes, and its link still works. Look for it, in the spam folder too.": "我們這次沒有再傳送郵件：最近幾分鐘內已向 "
    "<strong>%(email)s</strong> "
    "發過一封，其中的連結仍然有效。請查詢它，也請看看垃圾郵件資料夾。",
    "Search by city or region": "按城市或地區搜尋",
    "e.g. Shanghai": "例如 Shanghai",
    "Your role in this organization does not allow this.": "你在該組織中的角色不允許此操作。",
    "Organizations": "組織",
    "Organization name": "組織名稱",
    "Tax ID": "稅號",
    "Monthly cap (credits)": "每月上限（點數）",
    "Empty: no cap (the organization's balance and budget still apply).": "留空：不設上限（組織的餘額和預算仍然適用）。",
    "New owner": "新所有者",
    "Type the organization's name to confirm": "輸入組織名稱以確認",
    "That is not the organization's name.": "這不是該組織的名稱。",
    "Owner": "所有者",
    "Member": "成員",
    "Viewer": "檢視者",
    "An organization needs a name.": "組織需要一個名稱。",
    "Unknown role.": "未知角色。",
    "That person is not a member of this organization.": "此人不是該組織的成員。",
    "No such organization.": "沒有這個組織。",
    "A billing detail is too long.": "帳單資訊過長。",
    "That person is already a member.": "此人已經是成員。",
    "That address already has a pending invitation.": "該地址已有一個待處理的邀請。",
    "No such pending invitation.": "沒有這個待處理的邀請。",
    "This invitation link is not valid or has expired.": "此邀請連結無效或已過期。",
    "This invitation was withdrawn.": "此邀請已被撤回。",
    "This invitation is for %(email)s: sign in with that (verified) address.": "此邀請發給 "
    "%(email)s：請使用該（已驗證的）地址登入。",
    "Only an owner can make someone an owner.": "只有所有者才能將他人設為所有者。",
    "An organization must keep at least one owner.": "組織必須至少保留一名所有者。",
    "Only an owner can transfer ownership.": "只有所有者才能轉讓所有權。",
    "Only an owner can delete the organization.": "只有所有者才能刪除組織。",
    "The organization still has a balance (or owes credits, or has requests in flight): it can be deleted only at zero.": "該組織仍有餘額（或欠點數，或有進行中的請求）：只有餘額為零時才能刪除。",
    "Organization “%(name)s” created.": "組織“%(name)s”已建立。",
    "Ownership transferred.": "所有權已轉讓。",
    "You left the organization.": "你已離開該組織。",
    "Invitation sent to %(email)s.": "邀請已傳送至 %(email)s。",
    "Check the cap and the models.": "請檢查上限和模型。",
    "To leave, use the settings page.": "要離開組織，請使用設定頁面。",
    "Your monthly cap": "你的每月上限",
    "No cap: you spent %(spent)s credits of the organization's balance this month (UTC).": "無上限：你本月（UTC）已使用組織餘額中的 "
    "%(spent)s "
    "點數。",
    "%(spent)s of %(limit)s credits spent this month (UTC): %(left)s credits left.": "本月（UTC）已使用 "
    "%(spent)s / "
    "%(limit)s 點數：剩餘 "
    "%(left)s 點數。",
    "Models you may use:": "你可以使用的模型：",
    "You are acting for": "你目前代表的帳戶",
    "Personal": "個人",
    "Switch": "切換",
    "Members": "成員",
    "Usage by member": "按成員檢視用量",
    "Organization settings": "組織設定",
    "New organization": "新建組織",
    "You are invited to join %(name)s as %(role)s (invitation for %(email)s).": "你受邀以%(role)s身份加入 "
    "%(name)s（邀請發給 "
    "%(email)s）。",
    "Sign up or sign in with the invited e-mail address, then come back to this link.": "請使用受邀的電子郵件地址註冊或登入，然後回到此連結。",
    "An organization has its own credits, keys and usage, shared by its members. You become its owner; you can switch between it and your personal account at any time.": "組織擁有自己的點數、金鑰和用量，由其成員共享。你將成為它的所有者；你可以隨時在它和你的個人帳戶之間切換。",
    "Create organization": "建立組織",
    "%(inviter)s invites you to join the organization %(name)s on OpenCodex as %(role)s.": "%(inviter)s "
    "邀請你以%(role)s身份加入 "
    "OpenCodex "
    "上的組織 "
    "%(name)s。",
    "You are invited to join the organization %(name)s on OpenCodex as %(role)s.": "你受邀以%(role)s身份加入 "
    "OpenCodex 上的組織 "
    "%(name)s。",
    "Sign up or sign in with this e-mail address, then accept the invitation here (the link expires in %(days)s days):": "請使用此電子郵件地址註冊或登入，然後在這裡接受邀請（連結在 "
    "%(days)s "
    "天后失效）：",
    "You are invited to join %(name)s": "你受邀加入 %(name)s",
    "Who can use %(name)s's credits, with what role, monthly cap and models.": "誰可以使用 %(name)s "
    "的點數，以及各自的角色、每月上限和模型。",
    "Roles explained": "角色說明",
    "Monthly cap and models": "每月上限和模型",
    "Set role": "設定角色",
    "Remove this member? Their keys stop working at once.": "移除該成員？其金鑰將立即失效。",
    "Pending invitations": "待處理的邀請",
    "expires %(date)s": "%(date)s 過期",
    "Resend": "重新傳送",
    "General": "常規",
    "The name, address and tax ID for the organization's invoices.": "組織發票上的名稱、地址和稅號。",
    "Transfer ownership": "轉讓所有權",
    "The member you choose becomes an owner; you stay as an admin.": "你選擇的成員將成為所有者；你將保留管理員角色。",
    "Transfer": "轉讓",
    "Delete the organization": "刪除組織",
    "Possible only when its balance is zero. Its keys stop working at once; its payment and usage records are kept.": "僅當餘額為零時可以刪除。其金鑰立即失效；付款和用量記錄會被保留。",
    "Leave the organization": "離開組織",
    "Your keys in this organization are revoked when you leave.": "離開時，你在該組織中的金鑰會被吊銷。",
    "Leave": "離開",
    "this month (UTC)": "本月（UTC）",
    "Download CSV": "下載 CSV",
    "By member": "按成員",
    "Spend by member": "各成員的消費",
    "By member, key and model": "按成員、金鑰和模型",
    "Billing name": "帳單名稱",
    "Billing address": "帳單地址",
    "E-mail address": "電子郵件地址",
    "Model ids separated by commas. Empty: every model.": "用逗號分隔的模型 ID。留空：所有模型。",
    "The name is too long (100 characters at most).": "名稱過長（最多 100 個字元）。",
    "Unknown time zone.": "未知時區。",
    "Enter a valid e-mail address.": "請輸入有效的電子郵件地址。",
    "This invitation was already accepted.": "此邀請已被接受。",
    "You are already a member of this organization.": "你已經是該組織的成員。",
    "Choose another member.": "請選擇另一名成員。",
    "The organization was deleted.": "組織已刪除。",
    "You joined %(name)s.": "你已加入 %(name)s。",
    "acting for %(name)s (%(role)s)": "代表 %(name)s（%(role)s）",
    "Invitation": "邀請",
    "Accept invitation": "接受邀請",
    "Spent this month": "本月消費",
    "%(left)s left": "剩餘 %(left)s",
    "Save limits": "儲存限額",
    "Invite someone": "邀請成員",
    "Send invitation": "傳送邀請",
    "Revoke": "撤銷",
    "Billing details": "帳單資訊",
    "Delete organization": "刪除組織",
    "My usage in this organization": "我在該組織中的用量",
    "last 30 days": "最近 30 天",
    "This month": "本月",
    "Last 30 days": "最近 30 天",
    "No usage yet.": "還沒有用量。",
    "You are the last owner of the organization “%(name)s”: transfer it to another member or delete it first.": "你是組織“%(name)s”的最後一名所有者：請先將其轉讓給其他成員或刪除它。",
    "by %(who)s": "建立者 %(who)s",
    "Switch account": "切換帳戶",
    "Member left": "成員已退出",
    "Member joined": "成員已加入",
    "Member's cap or models changed": "成員的上限或模型已更改",
    "Invitation withdrawn": "邀請已撤回",
    "Ownership transferred": "所有權已轉讓",
    "Organization created": "組織已建立",
    "Organization settings changed": "組織設定已更改",
    "Organization deleted": "組織已刪除",
    "Monthly cap": "每月上限",
    "Keys revoked": "已撤銷的金鑰",
    "Prices in %(currency_name)s, as of %(today)s.": "價格以%(currency_name)s計，截至 %(today)s。",
    "Auto top-up is off on this server because top-ups are: it charges a saved card, and cards cannot be saved while buying credits is unavailable.": "本伺服器上的自動儲值已關閉，因為儲值已關閉：自動儲值從已儲存的卡片扣款，而無法購買點數時也無法儲存卡片。",
    "Key spend limit reached": "金鑰已達消費上限",
    "Time (%(zone)s)": "時間（%(zone)s）",
    "All usage": "全部用量",
    "All requests": "全部請求",
    "No requests in the last 30 days.": "過去 30 天內沒有請求。",
}
