// The staff console: 目視確認 with the chip photo, switching method, cancelling, typed
// 照合番号B. Behind the staff PIN (a session cookie); never reachable from the patient page.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  let state = null;
  let source = null;
  async function post(url, body) {
    return fetch(url, { method: "POST", headers: { "Content-Type": "application/json" },
                        body: JSON.stringify(body), credentials: "same-origin" });
  }
  function action(name, value) { return post("/staff/action", { action: name, value: value }); }
  function render() {
    const s = state;
    document.body.dataset.staff = s.expects || "idle";
    document.body.dataset.patientScreen = s.patient_screen || "";
    $("patient-screen").textContent = "patient screen: " + (s.patient_screen || "?") + " · step: " + (s.step || "?");
    $("unsafe").hidden = s.unsafe_threshold == null;
    if (s.unsafe_threshold != null) $("unsafe").textContent = "UNSAFE face threshold " + s.unsafe_threshold;
    $("expect").textContent = s.expects === "visual" ? "目視確認: compare the patient with the card."
      : s.expects === "collation" ? "Type 照合番号B from the card face." : s.expects === "method"
      ? "The patient is choosing a method (offered: " + (s.offered || []).join(", ") + ")." : "";
    $("visual-actions").hidden = s.expects !== "visual";
    $("collation-entry").hidden = s.expects !== "collation";
    $("place").hidden = $("remove").hidden = !s.emulator;
    $("photo-box").hidden = !s.photo;
    if (s.photo) $("chip-photo").src = "/staff/photo?v=" + Date.now();
    else $("chip-photo").removeAttribute("src");
    $("log").replaceChildren(...(s.log || []).map((line) => { const li = document.createElement("li"); li.textContent = line; return li; }));
  }
  function connect() {
    $("login").hidden = true;
    $("console").hidden = false;
    source = new EventSource("/staff/events");
    source.onmessage = (event) => { state = JSON.parse(event.data); render(); };
  }
  $("login-button").addEventListener("click", async () => {
    const pin = $("staff-pin").value;
    $("staff-pin").value = "";
    const r = await post("/staff/login", { pin: pin });
    if (r.ok) connect(); else $("login-error").hidden = false;
  });
  $("confirm").addEventListener("click", () => action("confirm"));
  $("reject").addEventListener("click", () => action("reject"));
  $("switch-visual").addEventListener("click", () => action("visual"));
  $("cancel").addEventListener("click", () => action("cancel"));
  $("place").addEventListener("click", () => action("place"));
  $("remove").addEventListener("click", () => action("remove"));
  $("collation-send").addEventListener("click", () => {
    const v = $("collation").value; $("collation").value = ""; action("collation", v);
  });
})();
