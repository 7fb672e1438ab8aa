/* Progressive enhancement for forms rendered by app.inbox.formrender (inlined, no build). */
(function () {
  "use strict";
  var seq = 0;
  function msg(el, key) {
    var form = el.closest(".ef-form");
    return (form && form.getAttribute("data-msg-" + key)) || key;
  }
  function csrf(el) {
    var form = el.closest("form");
    var input = form && form.querySelector("input[name=csrf_token]");
    return input ? input.value : "";
  }
  function setupArray(box) {
    var items = box.querySelector(".ef-items");
    var tpl = box.querySelector("template.ef-item-template");
    var add = box.querySelector(".ef-add");
    var max = parseInt(box.getAttribute("data-max-items") || "0", 10);
    function refresh() {
      if (add) add.hidden = max > 0 && items.children.length >= max;
    }
    function bindRemove(row) {
      var btn = row.querySelector(".ef-remove");
      if (!btn) return;
      btn.hidden = false;
      btn.addEventListener("click", function () {
        if (items.children.length > 1) { row.remove(); } else {
          var input = row.querySelector("input, textarea, select");
          if (input) input.value = "";
        }
        refresh();
      });
    }
    Array.prototype.forEach.call(items.children, bindRemove);
    if (add && tpl) {
      add.addEventListener("click", function () {
        if (max > 0 && items.children.length >= max) return;
        var row = tpl.content.firstElementChild.cloneNode(true);
        var input = row.querySelector("[id]");
        if (input) input.id = input.id + "-" + (++seq);
        items.appendChild(row);
        bindRemove(row);
        if (input) input.focus();
        refresh();
      });
    }
    refresh();
  }
  function setupUpload(box) {
    var url = box.getAttribute("data-upload-url");
    var picker = box.querySelector("input[type=file]");
    if (!url || !picker) return;  // no JS upload: the file travels with the form
    var list = box.querySelector(".ef-upload-list");
    var status = box.querySelector(".ef-upload-status");
    var max = parseInt(box.getAttribute("data-max-items") || "0", 10);
    var maxBytes = parseInt(box.getAttribute("data-max-bytes") || "0", 10);
    var name = box.getAttribute("data-name");
    var images = box.getAttribute("data-images") === "true";
    function count() { return list.querySelectorAll("input[type=hidden]").length; }
    function addItem(body) {
      var li = document.createElement("li");
      li.className = "ef-upload-item";
      var hidden = document.createElement("input");
      hidden.type = "hidden"; hidden.name = name; hidden.value = "upload:" + body.id;
      var link = document.createElement("a");
      link.href = body.url; link.target = "_blank"; link.rel = "noopener";
      if (images) {
        var img = document.createElement("img");
        img.src = body.url; img.alt = body.name || ""; img.className = "ef-thumb";
        link.appendChild(img);
      } else { link.textContent = body.name || ("#" + body.id); }
      var remove = document.createElement("button");
      remove.type = "button"; remove.className = "small link";
      remove.textContent = msg(box, "remove");
      remove.addEventListener("click", function () { li.remove(); });
      li.appendChild(hidden); li.appendChild(link); li.appendChild(remove);
      list.appendChild(li);
      if (max === 1) {  // one file: the new one replaces the old
        Array.prototype.slice.call(list.children, 0, -1).forEach(function (old) { old.remove(); });
      }
      picker.required = false;
    }
    picker.addEventListener("change", function () {
      var files = Array.prototype.slice.call(picker.files || []);
      picker.value = "";
      files.forEach(function (file) {
        if (maxBytes && file.size > maxBytes) { status.textContent = msg(box, "too_big") + ": " + file.name; return; }
        if (max > 1 && count() >= max) { status.textContent = msg(box, "too_many"); return; }
        var data = new FormData();
        data.append("file", file);
        status.textContent = msg(box, "uploading");
        fetch(url, { method: "POST", body: data, credentials: "same-origin",
                     headers: { "X-CSRFToken": csrf(box), "Accept": "application/json" } })
          .then(function (r) { return r.json().then(function (b) { return { ok: r.ok, body: b }; }); })
          .then(function (res) {
            if (!res.ok) {
              var e = res.body && res.body.error;
              status.textContent = msg(box, "upload_failed") + (e ? ": " + e.message : "");
              return;
            }
            status.textContent = "";
            addItem(res.body);
          })
          .catch(function () { status.textContent = msg(box, "upload_failed"); });
      });
    });
  }
  function run() {
    document.querySelectorAll(".ef-form").forEach(function (form) {
      if (form.getAttribute("data-ef-ready")) return;
      form.setAttribute("data-ef-ready", "1");
      form.querySelectorAll(".ef-array").forEach(setupArray);
      form.querySelectorAll(".ef-upload").forEach(setupUpload);
    });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", run); } else { run(); }
})();
