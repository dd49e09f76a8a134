// The playground: sends the conversation to the portal (which calls the API under the user's
// short-lived playground key, kept on the server), reads the answer as it streams in with
// fetch() and a ReadableStream, and shows each reply's tokens and cost. "View code" writes the
// same request for cURL and the openai SDKs for Python and JavaScript.
(function () {
  "use strict";

  var PLACEHOLDER_KEY = "sk-live-YOUR_API_KEY";

  function init() {
    var root = document.getElementById("playground");
    var form = document.getElementById("pg-form");
    if (!root || !form) return;
    var strings = JSON.parse(document.getElementById("pg-strings").textContent);
    var el = {
      model: document.getElementById("pg-model"),
      modelLink: document.getElementById("pg-model-link"),
      temperature: document.getElementById("pg-temperature"),
      maxTokens: document.getElementById("pg-max-tokens"),
      maxHelp: document.getElementById("pg-max-help"),
      system: document.getElementById("pg-system"),
      conversation: document.getElementById("pg-conversation"),
      empty: document.getElementById("pg-empty"),
      error: document.getElementById("pg-error"),
      message: document.getElementById("pg-message"),
      send: document.getElementById("pg-send"),
      stop: document.getElementById("pg-stop"),
      clear: document.getElementById("pg-clear"),
      codeToggle: document.getElementById("pg-code-toggle"),
      code: document.getElementById("pg-code"),
      status: document.getElementById("pg-status"),
      csrf: form.querySelector("input[name=csrfmiddlewaretoken]"),
      compare: document.getElementById("pg-compare"),
      topP: document.getElementById("pg-top-p"),
      stopSequences: document.getElementById("pg-stop"),
      seed: document.getElementById("pg-seed"),
      settingsToggle: document.getElementById("pg-settings-toggle"),
      settingsSummary: document.getElementById("pg-settings-summary"),
    };
    // On a phone the settings fold away, so the message box is on the first screen.
    if (el.settingsToggle && window.matchMedia("(max-width: 860px)").matches) {
      el.settingsToggle.open = false;
    }
    var history = []; // [{role, content, item}] in the order sent
    var busy = null; // the AbortController of the request in flight

    function fmt(template, values) {
      return template.replace(/%\((\w+)\)s/g, function (_, name) {
        return values[name] === undefined ? "" : String(values[name]);
      });
    }

    function number(value) {
      return Number(value).toLocaleString();
    }

    // --- settings --------------------------------------------------------------------------

    function modelChanged() {
      var option = el.model.options[el.model.selectedIndex];
      var most = parseInt(option.getAttribute("data-max-output"), 10);
      if (most > 0) {
        el.maxTokens.max = String(most);
        if (parseInt(el.maxTokens.value, 10) > most) el.maxTokens.value = String(most);
        el.maxHelp.textContent = fmt(strings.max_output, { n: number(most) });
      }
      var href = el.modelLink.getAttribute("href");
      var base = href.slice(0, href.indexOf("/models/") + "/models/".length);
      el.modelLink.setAttribute("href", base + el.model.value + "/");
      if (el.settingsSummary) el.settingsSummary.textContent = el.model.value;
      updateCode();
    }

    // --- the conversation ------------------------------------------------------------------

    function addItem(role) {
      el.empty.hidden = true;
      var item = document.createElement("li");
      item.className = "pg-msg pg-" + role;
      var head = document.createElement("div");
      head.className = "pg-role";
      head.textContent = strings[role] || role;
      var body = document.createElement("div");
      body.className = "pg-content";
      item.appendChild(head);
      item.appendChild(body);
      el.conversation.appendChild(item);
      return item;
    }

    function renderReply(node, text) {
      // Replies are Markdown, drawn safely (static/js/markdown.js: text nodes only).
      if (window.OCXMarkdown) {
        window.OCXMarkdown.into(node, text);
        node.classList.add("pg-markdown");
      } else {
        node.textContent = text;
      }
    }

    function addMessage(role, content) {
      var item = addItem(role);
      if (role === "assistant") renderReply(item.querySelector(".pg-content"), content);
      else item.querySelector(".pg-content").textContent = content;
      var entry = { role: role, content: content, item: item };
      var remove = document.createElement("button");
      remove.type = "button";
      remove.className = "pg-remove secondary";
      remove.textContent = "×";
      remove.title = strings.remove;
      remove.setAttribute("aria-label", strings.remove);
      remove.addEventListener("click", function () {
        if (busy) return;
        var at = history.indexOf(entry);
        if (at >= 0) history.splice(at, 1);
        item.remove();
        if (!el.conversation.querySelector(".pg-msg")) el.empty.hidden = false;
        updateCode();
      });
      item.querySelector(".pg-role").appendChild(remove);
      history.push(entry);
      return entry;
    }

    function payloadMessages(draft) {
      var out = history.map(function (m) { return { role: m.role, content: m.content }; });
      if (draft) out.push({ role: "user", content: draft });
      return out;
    }

    function settings() {
      var body = { model: el.model.value };
      var t = el.temperature.value.trim();
      if (t !== "") body.temperature = Number(t);
      var m = el.maxTokens.value.trim();
      if (m !== "") body.max_tokens = parseInt(m, 10);
      if (el.topP && el.topP.value.trim() !== "") body.top_p = Number(el.topP.value.trim());
      if (el.seed && el.seed.value.trim() !== "") body.seed = parseInt(el.seed.value.trim(), 10);
      if (el.stopSequences) {
        var stops = el.stopSequences.value.split("\n").filter(function (line) { return line !== ""; });
        if (stops.length) body.stop = stops;
      }
      return body;
    }

    // --- errors and status -----------------------------------------------------------------

    function showError(title, message, link) {
      el.error.textContent = "";
      var strong = document.createElement("strong");
      strong.textContent = title;
      el.error.appendChild(strong);
      if (message) el.error.appendChild(document.createTextNode(": " + message));
      if (link) {
        el.error.appendChild(document.createTextNode(" "));
        var a = document.createElement("a");
        a.href = link.href;
        a.textContent = link.text;
        el.error.appendChild(a);
      }
      el.error.hidden = false;
    }

    function clearError() {
      el.error.hidden = true;
      el.error.textContent = "";
    }

    function explain(status, data, retryAfter) {
      var error = (data && data.error) || {};
      var message = error.message || "";
      if (error.param) message += " (" + error.param + ")";
      // The title and the way out follow the API error's code: a reached budget, key limit or a
      // suspended account is not "out of credits", and a top-up would not help.
      if (error.code === "monthly_budget_reached") {
        showError(strings.budget_reached, message, { href: root.dataset.billingUrl + "#budget-title", text: strings.raise_budget });
      } else if (error.code === "key_credit_limit_reached") {
        showError(strings.key_limit_reached, message, { href: root.dataset.keysUrl, text: strings.see_keys });
      } else if (error.code === "key_spend_limit_reached") {
        showError(strings.key_spend_limit_reached, message, { href: root.dataset.keysUrl, text: strings.see_keys });
      } else if (error.code === "member_cap_reached") {
        // An organization member's cap: only the organization's owner or an admin can raise it.
        showError(strings.member_cap_reached, message);
      } else if (error.code === "account_suspended") {
        showError(strings.suspended, message);
      } else if (status === 402) {
        showError(strings.out_of_credits, message, { href: root.dataset.billingUrl, text: strings.top_up });
      } else if (status === 429) {
        var wait = retryAfter ? " " + fmt(strings.retry_after, { n: retryAfter }) : "";
        showError(strings.rate_limited, message + wait);
      } else if (status === 400) {
        showError(strings.bad_request, message);
      } else {
        showError(fmt(strings.error, { status: status }), message);
      }
    }

    function setBusy(controller) {
      busy = controller;
      el.send.disabled = !!controller;
      el.stop.hidden = !controller;
      el.clear.disabled = !!controller;
    }

    // --- one reply -------------------------------------------------------------------------

    function statsLine(item, summary) {
      var line = document.createElement("p");
      line.className = "pg-stats";
      line.setAttribute("data-testid", "reply-stats");
      var parts = [];
      if (summary.usage) {
        var u = summary.usage;
        var tokens = fmt(strings.tokens, {
          prompt: number(u.prompt_tokens),
          completion: number(u.completion_tokens),
        });
        var extra = [];
        if (u.cached_tokens) extra.push(fmt(strings.cached, { n: number(u.cached_tokens) }));
        if (u.reasoning_tokens) extra.push(fmt(strings.reasoning, { n: number(u.reasoning_tokens) }));
        if (extra.length) tokens += " (" + extra.join(", ") + ")";
        parts.push(tokens);
      } else {
        parts.push(strings.no_usage);
      }
      if (summary.credits !== null && summary.credits !== undefined) {
        parts.push(fmt(strings.credits, { credits: summary.credits }));
      }
      parts.push(number(summary.latency_ms) + " ms");
      line.appendChild(document.createTextNode(parts.join(" · ")));
      if (summary.request_id) {
        line.appendChild(document.createTextNode(" · "));
        var a = document.createElement("a");
        a.href = root.dataset.requestUrl.replace("REQUEST_ID", encodeURIComponent(summary.request_id));
        a.textContent = summary.request_id;
        a.title = strings.details;
        line.appendChild(a);
      }
      item.appendChild(line);
    }

    function parseEvent(raw) {
      var name = "message";
      var data = [];
      raw.split("\n").forEach(function (line) {
        if (!line || line.charAt(0) === ":") return;
        var colon = line.indexOf(":");
        var field = colon < 0 ? line : line.slice(0, colon);
        var value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") name = value;
        else if (field === "data") data.push(value);
      });
      return { name: name, data: data.join("\n") };
    }

    async function send(draft) {
      clearError();
      var messages = payloadMessages(draft);
      if (!messages.length) {
        showError(strings.empty_message, "");
        return;
      }
      var payload = settings();
      payload.system = el.system.value;
      payload.messages = messages;
      var userEntry = draft ? addMessage("user", draft) : null;
      if (draft) el.message.value = "";
      var item = addItem("assistant");
      item.classList.add("pg-pending");
      var pair = comparePair(item, payload);
      var thinking = null;
      var body = item.querySelector(".pg-content");
      var text = "";
      var summary = null;
      var failed = false;
      var controller = new AbortController();
      setBusy(controller);
      el.status.textContent = strings.waiting;
      updateCode();

      function handle(event) {
        if (event.name === "request") return;
        if (event.name === "summary") {
          summary = JSON.parse(event.data);
          return;
        }
        if (!event.data || event.data === "[DONE]") return;
        var chunk;
        try { chunk = JSON.parse(event.data); } catch (e) { return; }
        if (chunk.error) {
          failed = true;
          explain(chunk.error.status || 500, chunk);
          return;
        }
        (chunk.choices || []).forEach(function (choice) {
          if (choice.index !== 0 || !choice.delta) return;
          if (choice.delta.reasoning_content) {
            if (!thinking) {
              thinking = document.createElement("details");
              thinking.className = "pg-thinking";
              var label = document.createElement("summary");
              label.textContent = strings.thinking;
              thinking.appendChild(label);
              thinking.appendChild(document.createElement("div"));
              item.insertBefore(thinking, body);
            }
            thinking.lastChild.textContent += choice.delta.reasoning_content;
          }
          if (choice.delta.content) {
            if (!text) el.status.textContent = strings.streaming;
            text += choice.delta.content;
            renderReply(body, text);
          }
        });
      }

      try {
        var response = await fetch(root.dataset.chatUrl, {
          method: "POST",
          credentials: "same-origin",
          headers: {
            "Content-Type": "application/json",
            "Accept": "text/event-stream",
            "X-CSRFToken": el.csrf.value,
          },
          body: JSON.stringify(payload),
          signal: controller.signal,
        });
        var streamed = (response.headers.get("Content-Type") || "").indexOf("text/event-stream") === 0;
        if (!response.ok || !streamed) {
          var data = null;
          try { data = await response.json(); } catch (e) { data = null; }
          failed = true;
          explain(response.ok ? 502 : response.status, data, response.headers.get("Retry-After"));
          if (data && data.request_id) summary = { request_id: data.request_id };
        } else {
          var reader = response.body.getReader();
          var decoder = new TextDecoder();
          var buffer = "";
          for (;;) {
            var step = await reader.read();
            if (step.done) break;
            buffer += decoder.decode(step.value, { stream: true });
            buffer = buffer.replace(/\r\n/g, "\n");
            var end;
            while ((end = buffer.indexOf("\n\n")) >= 0) {
              handle(parseEvent(buffer.slice(0, end)));
              buffer = buffer.slice(end + 2);
            }
          }
          if (buffer.trim()) handle(parseEvent(buffer));
        }
      } catch (error) {
        if (error && error.name === "AbortError") {
          el.status.textContent = strings.stopped;
        } else {
          failed = true;
          showError(strings.network, "");
        }
      } finally {
        if (pair) await pair.done;
        setBusy(null);
        item.classList.remove("pg-pending");
        if (el.status.textContent !== strings.stopped) el.status.textContent = "";
      }

      if (text) {
        // The reply joins the conversation (also a partial one, as it was seen).
        item.remove();
        var entry = addMessage("assistant", text);
        if (thinking) entry.item.insertBefore(thinking, entry.item.querySelector(".pg-content"));
        if (summary && summary.complete === false) {
          var cut = document.createElement("p");
          cut.className = "pg-stats";
          cut.textContent = strings.incomplete;
          entry.item.appendChild(cut);
        }
        if (summary) statsLine(entry.item, summary);
        if (pair) pair.keep(entry.item);
      } else if (failed) {
        // A refused or failed request: no empty reply bubble; the error below the conversation
        // says what refused it (and links the request's page when it has one).
        item.remove();
        if (summary && summary.request_id && !el.error.hidden) {
          el.error.appendChild(document.createTextNode(" · "));
          var link = document.createElement("a");
          link.href = root.dataset.requestUrl.replace("REQUEST_ID", encodeURIComponent(summary.request_id));
          link.textContent = summary.request_id;
          link.title = strings.details;
          el.error.appendChild(link);
        }
        if (userEntry) {
          // Keep the user's words: back in the box, out of the conversation.
          el.message.value = userEntry.content;
          history.splice(history.indexOf(userEntry), 1);
          userEntry.item.remove();
        }
      } else if (summary && summary.latency_ms !== undefined) {
        statsLine(item, summary);  // an empty answer, with what it cost
      } else {
        item.remove();
      }
      updateCode();
    }

    // --- two models side by side ------------------------------------------------------------

    function modelLabel(item, model) {
      var tag = document.createElement("span");
      tag.className = "pg-model-tag";
      tag.textContent = model;
      var head = item.querySelector(".pg-role");
      head.insertBefore(tag, head.querySelector(".pg-remove"));
    }

    function comparePair(item, payload) {
      // With "Compare with" set, the same request goes to the second model at once; the two
      // replies stand side by side (the first model's reply stays in the conversation).
      var other = el.compare && el.compare.value;
      if (!other || other === payload.model) return null;
      var row = document.createElement("li");
      row.className = "pg-pair";
      row.setAttribute("data-testid", "compare-pair");
      var list = document.createElement("ol");
      list.className = "pg-pair-list";
      row.appendChild(list);
      el.conversation.insertBefore(row, item);
      list.appendChild(item);
      modelLabel(item, payload.model);
      var second = addItem("assistant");
      second.classList.add("pg-pending");
      list.appendChild(second);
      modelLabel(second, other);
      var secondPayload = JSON.parse(JSON.stringify(payload));
      secondPayload.model = other;
      return {
        done: streamSide(second, secondPayload),
        keep: function (reply) {
          list.insertBefore(reply, second);
          modelLabel(reply, payload.model);
        },
      };
    }

    async function streamSide(item, payload) {
      var body = item.querySelector(".pg-content");
      var text = "";
      var summary = null;
      var refusal = "";
      try {
        var response = await fetch(root.dataset.chatUrl, {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": "application/json", "Accept": "text/event-stream", "X-CSRFToken": el.csrf.value },
          body: JSON.stringify(payload),
          signal: busy ? busy.signal : undefined,
        });
        var streamed = (response.headers.get("Content-Type") || "").indexOf("text/event-stream") === 0;
        if (!response.ok || !streamed) {
          var data = null;
          try { data = await response.json(); } catch (e) { data = null; }
          refusal = ((data && data.error && data.error.message) || "") || fmt(strings.error, { status: response.status });
        } else {
          var reader = response.body.getReader();
          var decoder = new TextDecoder();
          var buffer = "";
          var handle = function (event) {
            if (event.name === "summary") { summary = JSON.parse(event.data); return; }
            if (event.name !== "message" || !event.data || event.data === "[DONE]") return;
            var chunk;
            try { chunk = JSON.parse(event.data); } catch (e) { return; }
            if (chunk.error) { refusal = chunk.error.message || fmt(strings.error, { status: chunk.error.status || 500 }); return; }
            (chunk.choices || []).forEach(function (choice) {
              if (choice.index === 0 && choice.delta && choice.delta.content) {
                text += choice.delta.content;
                renderReply(body, text);
              }
            });
          };
          for (;;) {
            var step = await reader.read();
            if (step.done) break;
            buffer += decoder.decode(step.value, { stream: true }).replace(/\r\n/g, "\n");
            var end;
            while ((end = buffer.indexOf("\n\n")) >= 0) {
              handle(parseEvent(buffer.slice(0, end)));
              buffer = buffer.slice(end + 2);
            }
          }
          if (buffer.trim()) handle(parseEvent(buffer));
        }
      } catch (error) {
        refusal = error && error.name === "AbortError" ? strings.stopped : strings.network;
      }
      item.classList.remove("pg-pending");
      if (refusal && !text) {
        item.classList.add("pg-failed");
        body.textContent = refusal;
      }
      if (summary && summary.latency_ms !== undefined) statsLine(item, summary);
    }

    // --- view code -------------------------------------------------------------------------

    function codeRequest() {
      var draft = el.message.value.trim();
      var messages = [];
      if (el.system.value.trim()) messages.push({ role: "system", content: el.system.value });
      payloadMessages(draft).forEach(function (m) { messages.push(m); });
      if (messages.length === 0 || messages[messages.length - 1].role === "system") {
        messages.push({ role: "user", content: "Hello!" });
      }
      var body = { model: el.model.value, messages: messages };
      var s = settings();
      if (s.temperature !== undefined && !isNaN(s.temperature)) body.temperature = s.temperature;
      if (s.max_tokens !== undefined && !isNaN(s.max_tokens)) body.max_tokens = s.max_tokens;
      if (s.top_p !== undefined && !isNaN(s.top_p)) body.top_p = s.top_p;
      if (s.seed !== undefined && !isNaN(s.seed)) body.seed = s.seed;
      if (s.stop) body.stop = s.stop;
      body.stream = true;
      body.stream_options = { include_usage: true };
      return body;
    }

    function curl(base, body) {
      var json = JSON.stringify(body, null, 2).replace(/'/g, "'\\''");
      return "curl -N " + base + "/chat/completions \\\n" +
        '  -H "Content-Type: application/json" \\\n' +
        '  -H "Authorization: Bearer ' + PLACEHOLDER_KEY + '" \\\n' +
        "  -d '" + json + "'";
    }

    function py(value) {
      if (value === true) return "True";
      if (value === false) return "False";
      if (value === null) return "None";
      if (Array.isArray(value)) return "[" + value.map(py).join(", ") + "]";
      if (typeof value === "object") {
        return "{" + Object.keys(value).map(function (k) { return JSON.stringify(k) + ": " + py(value[k]); }).join(", ") + "}";
      }
      return JSON.stringify(value);
    }

    function python(base, body) {
      var lines = [
        "from openai import OpenAI", "",
        "client = OpenAI(",
        '    api_key="' + PLACEHOLDER_KEY + '",',
        '    base_url="' + base + '",',
        ")", "",
        "stream = client.chat.completions.create(",
        "    model=" + py(body.model) + ",",
        "    messages=[",
      ];
      body.messages.forEach(function (m) { lines.push("        " + py(m) + ","); });
      lines.push("    ],");
      if (body.temperature !== undefined) lines.push("    temperature=" + body.temperature + ",");
      if (body.max_tokens !== undefined) lines.push("    max_tokens=" + body.max_tokens + ",");
      if (body.top_p !== undefined) lines.push("    top_p=" + body.top_p + ",");
      if (body.stop !== undefined) lines.push("    stop=" + py(body.stop) + ",");
      if (body.seed !== undefined) lines.push("    seed=" + body.seed + ",");
      lines.push("    stream=True,", '    stream_options={"include_usage": True},', ")");
      lines.push("for chunk in stream:");
      lines.push("    if chunk.choices:");
      lines.push('        print(chunk.choices[0].delta.content or "", end="", flush=True)');
      lines.push("    if chunk.usage:");
      lines.push("        print()");
      lines.push("        print(chunk.usage)");
      return lines.join("\n");
    }

    function javascript(base, body) {
      var lines = [
        "import OpenAI from 'openai';", "",
        "const client = new OpenAI({",
        "  apiKey: '" + PLACEHOLDER_KEY + "',",
        "  baseURL: '" + base + "',",
        "});", "",
        "const stream = await client.chat.completions.create({",
        "  model: " + JSON.stringify(body.model) + ",",
        "  messages: [",
      ];
      body.messages.forEach(function (m) {
        lines.push("    { role: " + JSON.stringify(m.role) + ", content: " + JSON.stringify(m.content) + " },");
      });
      lines.push("  ],");
      if (body.temperature !== undefined) lines.push("  temperature: " + body.temperature + ",");
      if (body.max_tokens !== undefined) lines.push("  max_tokens: " + body.max_tokens + ",");
      if (body.top_p !== undefined) lines.push("  top_p: " + body.top_p + ",");
      if (body.stop !== undefined) lines.push("  stop: " + JSON.stringify(body.stop) + ",");
      if (body.seed !== undefined) lines.push("  seed: " + body.seed + ",");
      lines.push("  stream: true,", "  stream_options: { include_usage: true },", "});");
      lines.push("for await (const chunk of stream) {");
      lines.push("  process.stdout.write(chunk.choices[0]?.delta?.content ?? '');");
      lines.push("  if (chunk.usage) console.log('\\n', chunk.usage);");
      lines.push("}");
      return lines.join("\n");
    }

    function updateCode() {
      if (el.code.hidden) return;
      var base = root.dataset.baseUrl;
      var body = codeRequest();
      document.getElementById("pg-code-curl").textContent = curl(base, body);
      document.getElementById("pg-code-python").textContent = python(base, body);
      document.getElementById("pg-code-javascript").textContent = javascript(base, body);
    }

    // --- wiring ----------------------------------------------------------------------------

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (busy) return;
      var draft = el.message.value.trim();
      if (!draft && (!history.length || history[history.length - 1].role !== "user")) {
        showError(strings.empty_message, "");
        el.message.focus();
        return;
      }
      send(draft);
    });
    el.message.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    el.stop.addEventListener("click", function () { if (busy) busy.abort(); });
    el.clear.addEventListener("click", function () {
      if (busy) return;
      history = [];
      el.conversation.querySelectorAll(".pg-msg").forEach(function (item) { item.remove(); });
      el.empty.hidden = false;
      clearError();
      updateCode();
    });
    el.codeToggle.addEventListener("click", function () {
      el.code.hidden = !el.code.hidden;
      el.codeToggle.setAttribute("aria-expanded", el.code.hidden ? "false" : "true");
      updateCode();
      if (!el.code.hidden) el.code.scrollIntoView({ block: "nearest" });
    });
    el.model.addEventListener("change", modelChanged);
    [el.temperature, el.maxTokens, el.system, el.message, el.topP, el.stopSequences, el.seed].filter(Boolean).forEach(function (input) {
      input.addEventListener("input", updateCode);
    });
    modelChanged();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
