// The patient's screen: renders what the server's kiosk flow asks (server-sent events on
// /events) and posts each answer to /answer. No state machine here: one screen per message.
"use strict";
(function () {
  const T = {
    ja: {
      lang: "English", connecting: "接続しています…",
      card: "カードを置いてください", card_sub: "マイナンバーカードをカードリーダーに置いてください",
      reading: "カードを読み取っています…", reading_sub: "カードを動かさないでください",
      method: "本人確認の方法を選んでください", face: "顔認証を行う", pin: "暗証番号を入力",
      cancel: "終了する", staff_only: "スタッフをお呼びください",
      face_title: "顔を枠内に入れてください", attempt: "撮影 {n} 回目",
      g_position: "顔を枠内に入れてください", g_closer: "近づいてください",
      g_brighter: "明るい場所で撮影してください", g_less_light: "まぶしすぎます。光を避けてください",
      g_one_face: "お一人で映ってください", g_still: "動かないでください", g_ok: "そのままお待ちください",
      pin_title: "暗証番号（4桁）を入力してください", tries: "残り回数: {n} 回",
      clear: "訂正", ok: "確定",
      consent: "過去の健診情報を当機関に提供することに同意しますか", agree: "同意する", disagree: "同意しない",
      wait_visual: "スタッフが確認します。しばらくお待ちください",
      wait_collation: "スタッフがカードの券面を確認します。しばらくお待ちください",
      done: "確認が完了しました", remove: "カードを取り出してください",
      seconds: "残り {n} 秒",
      n_face_failed: "顔を確認できませんでした",
      n_face_retry: "もう一度撮影します（残り {n} 回）",
      n_wrong_pin: "暗証番号が違います。残り {n} 回です",
      n_pin_format: "4桁の数字を入力してください",
      n_guard: "暗証番号の残り回数が1回のため、ここでは入力できません。スタッフをお呼びください",
      n_card_face: "カードの券面情報を確認できませんでした",
      n_card_photo: "カードの顔写真を使用できませんでした",
      n_pinless: "顔認証マイナンバーカードです（暗証番号は使用しません）",
      "r_timed-out": "時間切れになりました",
      "r_refused-by-guard": "暗証番号の残り回数が1回です。スタッフにお声がけください",
      "r_pin-blocked": "暗証番号がロックされています",
      "r_certificate-expired": "電子証明書の有効期限が切れています。市区町村の窓口で更新してください",
      r_cancelled: "中止しました", r_failed: "本人確認ができませんでした。スタッフにお声がけください",
      "r_card-removed": "カードが取り出されました",
      unsafe: "警告: 顔照合のしきい値が校正値より緩く設定されています（{t} > {c}）",
    },
    en: {
      lang: "日本語", connecting: "Connecting…",
      card: "Please place your card", card_sub: "Put your My Number Card on the card reader",
      reading: "Reading the card…", reading_sub: "Please do not move the card",
      method: "Choose how to confirm your identity", face: "Face recognition",
      pin: "Enter PIN", cancel: "Quit", staff_only: "Please call the staff",
      face_title: "Put your face inside the frame", attempt: "Attempt {n}",
      g_position: "Put your face inside the frame", g_closer: "Please come closer",
      g_brighter: "Please move to a brighter place", g_less_light: "Too bright: avoid the light",
      g_one_face: "Only one person, please", g_still: "Please hold still", g_ok: "Hold still, please wait",
      pin_title: "Enter your 4-digit PIN", tries: "Tries left: {n}", clear: "Clear", ok: "OK",
      consent: "Do you agree to share your past health-check information with this clinic?",
      agree: "I agree", disagree: "I do not agree",
      wait_visual: "The staff will check your identity. Please wait",
      wait_collation: "The staff will check your card. Please wait",
      done: "Confirmation complete", remove: "Please take your card",
      seconds: "{n} s left",
      n_face_failed: "Your face could not be confirmed",
      n_face_retry: "Trying again ({n} left)",
      n_wrong_pin: "Wrong PIN. {n} tries left",
      n_pin_format: "Please enter 4 digits",
      n_guard: "Only one PIN try is left, so it cannot be used here. Please call the staff",
      n_card_face: "The card face could not be checked",
      n_card_photo: "The card photo could not be used",
      n_pinless: "Face-authentication card (no PIN)",
      "r_timed-out": "Time is up",
      "r_refused-by-guard": "Only one PIN try is left. Please ask the staff",
      "r_pin-blocked": "The PIN is locked",
      "r_certificate-expired": "The card's certificate has expired. Renew it at your municipal office",
      r_cancelled: "Cancelled", r_failed: "Your identity could not be confirmed. Please ask the staff",
      "r_card-removed": "The card was removed",
      unsafe: "WARNING: the face threshold is looser than calibrated ({t} > {c})",
    },
  };
  const STEP = { card: 1, reading: 1, method: 2, face: 3, pin: 3, "wait-staff": 3, consent: 4, done: 5, result: 5 };
  const NOTICE = { "face-failed": "n_face_failed", "face-retry": "n_face_retry", "wrong-pin": "n_wrong_pin",
                   "pin-format": "n_pin_format", guard: "n_guard", "card-face-unusable": "n_card_face",
                   "card-photo-unusable": "n_card_photo" };
  let lang = localStorage.getItem("mynaid-lang") === "en" ? "en" : "ja";
  let state = null;
  let digits = "";
  let deadline = null;
  let deadlineId = null;
  const main = document.getElementById("main");

  function t(key, params) {
    let s = T[lang][key] || key;
    for (const [k, v] of Object.entries(params || {})) s = s.replace("{" + k + "}", String(v));
    return s;
  }
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "onclick") node.addEventListener("click", v);
      else node.setAttribute(k, v);
    }
    for (const c of children) node.append(c);
    return node;
  }
  function button(id, label, value, cls) {
    return el("button", { id: id, type: "button", class: cls || "big", "data-testid": id,
                          onclick: () => send(value) }, label);
  }
  async function send(value) {
    if (!state) return;
    const id = state.id;
    await fetch("/answer", { method: "POST", headers: { "Content-Type": "application/json" },
                             body: JSON.stringify({ id: id, value: value }) });
  }
  function noticeNode(notice) {
    if (!notice || !notice.code) return null;
    let key = NOTICE[notice.code];
    if (notice.code === "card-read" && notice.pinless) key = "n_pinless";
    if (!key) return null;
    const n = notice.code === "face-retry" ? notice.attempts_left : notice.tries_left;
    return el("p", { class: "notice", id: "notice", "data-code": notice.code }, t(key, { n: n }));
  }
  function keypad() {
    const dots = el("div", { class: "dots", id: "pin-dots" }, "●".repeat(digits.length));
    const pad = el("div", { class: "keypad", id: "keypad" });
    const press = (d) => { if (digits.length < 4) { digits += d; dots.textContent = "●".repeat(digits.length); } };
    for (const d of ["1", "2", "3", "4", "5", "6", "7", "8", "9"]) {
      pad.append(el("button", { type: "button", id: "key-" + d, onclick: () => press(d) }, d));
    }
    pad.append(el("button", { type: "button", id: "key-clear", onclick: () => { digits = ""; dots.textContent = ""; } }, t("clear")));
    pad.append(el("button", { type: "button", id: "key-0", onclick: () => press("0") }, "0"));
    pad.append(el("button", { type: "button", id: "key-ok", class: "ok", onclick: () => {
      const pin = digits; digits = ""; dots.textContent = ""; send(pin); } }, t("ok")));
    return [dots, pad];
  }
  function camera(s) {
    const box = el("div", { class: "camera", id: "camera" });
    box.append(el("img", { id: "preview", alt: "", src: "/preview.jpg?f=" + (s.frame ?? "") + "&i=" + s.id }));
    box.append(el("div", { class: "frame" }));
    if (s.box) {
      const [l, tp, r, b] = s.box;
      // CSSOM, not a style attribute: the page's CSP forbids inline styles.
      const face = el("div", { class: "box", id: "face-box" });
      Object.assign(face.style, { left: l * 100 + "%", top: tp * 100 + "%",
                                  width: (r - l) * 100 + "%", height: (b - tp) * 100 + "%" });
      box.append(face);
    }
    return box;
  }
  function render() {
    const s = state;
    if (!s) return;
    document.documentElement.lang = lang;
    document.getElementById("lang").textContent = t("lang");
    document.body.dataset.screen = s.screen;
    document.body.dataset.screenId = s.id;
    document.getElementById("step-indicator").textContent =
      ["①", "②", "③", "④", "⑤"].map((c, i) => (STEP[s.screen] === i + 1 ? "[" + c + "]" : c)).join(" ");
    const unsafe = document.getElementById("unsafe");
    unsafe.hidden = s.unsafe_threshold == null;
    if (!unsafe.hidden) unsafe.textContent = t("unsafe", { t: s.unsafe_threshold, c: s.calibrated_threshold });
    const parts = [];
    const notice = noticeNode(s.notice);
    switch (s.screen) {
      case "card":
        parts.push(el("h1", {}, t("card")), el("p", {}, t("card_sub"))); break;
      case "reading":
        parts.push(el("h1", {}, t("reading")), el("p", {}, t("reading_sub"))); break;
      case "method": {
        if (notice) parts.push(notice);
        const choices = el("div", { class: "choices" });
        if (s.staff_only) parts.push(el("h1", { id: "staff-only" }, t("staff_only")));
        else parts.push(el("h1", {}, t("method")));
        for (const m of s.options || []) choices.append(button("choose-" + m, t(m), m, m === "face" ? "big ok" : "big"));
        choices.append(button("choose-cancel", t("cancel"), "cancel"));
        parts.push(choices);
        break;
      }
      case "face":
        parts.push(el("h1", {}, t("face_title")), camera(s),
                   el("p", { class: "guidance", id: "guidance", "data-guidance": s.guidance || "" },
                      t("g_" + (s.guidance || "position").replace("-", "_"))),
                   el("p", {}, t("attempt", { n: s.attempt || 1 })));
        if (notice) parts.push(notice);
        break;
      case "pin":
        parts.push(el("h1", {}, t("pin_title")));
        if (notice) parts.push(notice);
        parts.push(el("p", { id: "tries-left", "data-tries": s.tries_left }, t("tries", { n: s.tries_left })));
        parts.push(...keypad());
        parts.push(el("div", { class: "choices" }, button("choose-cancel", t("cancel"), "cancel", "medium")));
        break;
      case "consent":
        parts.push(el("h1", {}, t("consent")),
                   el("div", { class: "choices" }, button("agree", t("agree"), true, "big ok"),
                      button("disagree", t("disagree"), false)));
        break;
      case "wait-staff":
        parts.push(el("h1", {}, t(s.reason === "collation" ? "wait_collation" : "wait_visual")));
        break;
      case "done":
        parts.push(el("h1", { id: "done" }, t("done")), el("h1", {}, t("remove")));
        break;
      case "result":
        parts.push(el("h1", { id: "result", "data-result": s.result }, t("r_" + s.result)));
        // Where a blocked PIN can be reset comes from the server (mynaid.pins.reset_advice).
        if (s.advice && s.advice[lang]) {
          const advice = s.advice[lang];
          parts.push(el("p", { id: "advice" }, advice.charAt(0).toUpperCase() + advice.slice(1)));
        }
        parts.push(el("h1", {}, t("remove")));
        break;
      default:
        parts.push(el("h1", {}, t("connecting")));
    }
    main.replaceChildren(...parts);
  }
  function tick() {
    const node = document.getElementById("countdown");
    if (deadline === null) { node.textContent = ""; return; }
    const left = Math.max(0, Math.ceil((deadline - Date.now()) / 1000));
    node.textContent = t("seconds", { n: left });
  }
  document.getElementById("lang").addEventListener("click", () => {
    lang = lang === "ja" ? "en" : "ja";
    localStorage.setItem("mynaid-lang", lang);
    render(); tick();
  });
  const source = new EventSource("/events");
  source.onmessage = (event) => {
    const next = JSON.parse(event.data);
    if (!state || next.id !== state.id) {
      digits = "";
      deadline = next.timeout ? Date.now() + next.timeout * 1000 : null;
      deadlineId = next.id;
    }
    state = next;
    render(); tick();
  };
  setInterval(tick, 500);
})();
