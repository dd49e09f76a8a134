// A small, safe Markdown renderer for the playground's replies. It builds DOM nodes and sets
// only text (never innerHTML), so nothing a model writes can become markup or script; links
// keep only http(s) and mailto addresses. It knows what replies use: fenced code blocks,
// headings, lists, quotes, paragraphs, and inline code, bold, italic and links.
(function () {
  "use strict";

  var SAFE_URL = /^(https?:\/\/|mailto:)/i;
  var INLINE = /(`+)([\s\S]*?[^`])\1(?!`)|\*\*([^*]+)\*\*|__([^_]+)__|\*([^*\s][^*]*)\*|_([^_\s][^_]*)_|\[([^\]]+)\]\(([^)\s]+)\)/;

  function inline(parent, text) {
    while (text) {
      var m = INLINE.exec(text);
      if (!m) {
        parent.appendChild(document.createTextNode(text));
        return;
      }
      if (m.index) parent.appendChild(document.createTextNode(text.slice(0, m.index)));
      var node;
      if (m[1]) {
        node = document.createElement("code");
        node.textContent = m[2];
      } else if (m[3] || m[4]) {
        node = document.createElement("strong");
        inline(node, m[3] || m[4]);
      } else if (m[5] || m[6]) {
        node = document.createElement("em");
        inline(node, m[5] || m[6]);
      } else if (SAFE_URL.test(m[8])) {
        node = document.createElement("a");
        node.href = m[8];
        node.rel = "noopener noreferrer nofollow";
        node.target = "_blank";
        inline(node, m[7]);
      } else {
        node = document.createTextNode(m[0]);
      }
      parent.appendChild(node);
      text = text.slice(m.index + m[0].length);
    }
  }

  function paragraph(parent, lines) {
    if (!lines.length) return;
    var p = document.createElement("p");
    lines.forEach(function (line, i) {
      if (i) p.appendChild(document.createElement("br"));
      inline(p, line);
    });
    parent.appendChild(p);
  }

  function render(source) {
    var fragment = document.createDocumentFragment();
    var lines = String(source || "").replace(/\r\n?/g, "\n").split("\n");
    var para = [];
    var list = null;
    var i = 0;
    function flush() {
      paragraph(fragment, para);
      para = [];
      list = null;
    }
    while (i < lines.length) {
      var line = lines[i];
      var fence = /^\s*(```|~~~)\s*([\w+-]*)/.exec(line);
      if (fence) {
        flush();
        var code = [];
        i += 1;
        while (i < lines.length && lines[i].trim().indexOf(fence[1]) !== 0) {
          code.push(lines[i]);
          i += 1;
        }
        var pre = document.createElement("pre");
        var el = document.createElement("code");
        if (fence[2]) el.setAttribute("data-lang", fence[2]);
        el.textContent = code.join("\n");
        pre.appendChild(el);
        fragment.appendChild(pre);
        i += 1; // the closing fence (or the end of a reply still streaming)
        continue;
      }
      var heading = /^(#{1,6})\s+(.*)$/.exec(line);
      var bullet = /^\s*([-*+]|\d{1,3}[.)])\s+(.*)$/.exec(line);
      var quote = /^>\s?(.*)$/.exec(line);
      if (!line.trim()) {
        flush();
      } else if (heading) {
        flush();
        var h = document.createElement("h" + Math.min(heading[1].length + 2, 6));
        inline(h, heading[2]);
        fragment.appendChild(h);
      } else if (bullet) {
        paragraph(fragment, para);
        para = [];
        var ordered = /\d/.test(bullet[1]);
        if (!list || (list.tagName === "OL") !== ordered) {
          list = document.createElement(ordered ? "ol" : "ul");
          fragment.appendChild(list);
        }
        var li = document.createElement("li");
        inline(li, bullet[2]);
        list.appendChild(li);
      } else if (quote) {
        flush();
        var block = document.createElement("blockquote");
        inline(block, quote[1]);
        fragment.appendChild(block);
      } else if (list && /^\s{2,}\S/.test(line)) {
        list.lastChild.appendChild(document.createTextNode(" "));
        inline(list.lastChild, line.trim());
      } else {
        list = null;
        para.push(line);
      }
      i += 1;
    }
    paragraph(fragment, para);
    return fragment;
  }

  window.OCXMarkdown = {
    render: render,
    into: function (element, source) {
      element.replaceChildren(render(source));
    },
  };
})();
