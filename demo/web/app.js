// lux chat: the page of the bundled demo. Plain JavaScript, no build step.
// Protocol: docs/DEMO.md (WebSocket subprotocol lux-chat.v1, JSON frames).
// Every string that comes from a user is put into the page with
// textContent, never as markup.
"use strict";

const SUBPROTOCOL = "lux-chat.v1";
const COLORS = ["#6d5dfc", "#e8485a", "#f08c00", "#2f9e44", "#1c7ed6", "#ae3ec9", "#0c8599", "#e64980"];
const COLOR_RE = /^#[0-9a-fA-F]{6}$/;
const STORE_KEY = "lux-chat";

const $ = (id) => document.getElementById(id);
const el = (tag, cls, text) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
};

// ---- persistent state (localStorage) ----
function loadSaved() {
  try { return JSON.parse(localStorage.getItem(STORE_KEY)) || {}; } catch { return {}; }
}
const saved = loadSaved();
function persist() {
  try { localStorage.setItem(STORE_KEY, JSON.stringify(saved)); } catch { /* private mode */ }
}

// ---- state ----
const state = {
  ws: null,
  attempt: 0,
  retryTimer: null,
  me: null,
  loginWanted: null,            // {name, color} while a login is in flight or to redo on reconnect
  channels: new Map(),          // id -> {id, name, topic, unread}
  current: saved.channel || 0,
  stores: new Map(),            // channel id -> {msgs: [], ids: Set, more, loaded, loadingOlder}
  online: new Map(),            // user id -> user
  typers: new Map(),            // channel id -> Map(user id -> {user, until})
  lastTypingSent: 0,
  nonceSeq: 0,
  limits: { max_text: 1000 },
};

function store(ch) {
  let s = state.stores.get(ch);
  if (!s) {
    s = { msgs: [], ids: new Set(), nonces: new Map(), more: false, loaded: false, loadingOlder: false };
    state.stores.set(ch, s);
  }
  return s;
}

// ---- connection ----
function setStatus(kind, text) {
  const s = $("status");
  s.dataset.state = kind;
  s.textContent = text;
}

function connect() {
  clearTimeout(state.retryTimer);
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  let ws;
  try {
    ws = new WebSocket(`${proto}//${location.host}/ws`, SUBPROTOCOL);
  } catch (e) {
    scheduleReconnect();
    return;
  }
  state.ws = ws;
  setStatus("connecting", state.attempt ? "reconnecting…" : "connecting…");
  ws.onopen = () => {
    state.attempt = 0;
    setStatus("online", "connected");
    if (state.loginWanted) sendLogin();
  };
  ws.onmessage = (ev) => {
    let f;
    try { f = JSON.parse(ev.data); } catch { return; }
    handle(f);
  };
  ws.onclose = (ev) => {
    if (state.ws !== ws) return;
    state.ws = null;
    if (state.me) state.loginWanted = { name: state.me.name, color: state.me.color };
    state.me = null;
    for (const s of state.stores.values()) {
      for (const m of s.msgs) if (m.pending) { m.pending = false; m.failed = "not sent: connection lost"; }
    }
    render();
    scheduleReconnect(ev.reason);
  };
}

function scheduleReconnect(reason) {
  const delay = Math.min(10000, 500 * 2 ** state.attempt) * (0.75 + Math.random() * 0.5);
  state.attempt++;
  let left = Math.ceil(delay / 1000);
  const why = reason ? ` (${reason})` : "";
  setStatus("offline", `offline${why} — retrying in ${left}s`);
  const tick = setInterval(() => {
    left--;
    if (left > 0 && !state.ws) setStatus("offline", `offline${why} — retrying in ${left}s`);
  }, 1000);
  state.retryTimer = setTimeout(() => { clearInterval(tick); connect(); }, delay);
}

function send(frame) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) {
    state.ws.send(JSON.stringify(frame));
    return true;
  }
  return false;
}

function sendLogin() {
  const w = state.loginWanted;
  const token = saved.name === w.name ? saved.token || "" : "";
  send({ type: "login", name: w.name, color: w.color, token });
}

// ---- frames ----
function handle(f) {
  switch (f.type) {
    case "hello":
      state.limits = f.limits || state.limits;
      break;
    case "login_ok":
      onLogin(f);
      break;
    case "channels":
      for (const c of f.channels) addChannel(c);
      ensureCurrent();
      joinAll();
      renderChannels();
      break;
    case "channel":
      addChannel(f.channel);
      if (state.me) send({ type: "join", channel: f.channel.id, after: Date.now() });
      renderChannels();
      break;
    case "channel_created":
      addChannel(f.channel);
      $("new-channel").reset();
      $("new-channel-error").textContent = "";
      switchTo(f.channel.id);
      break;
    case "history":
      onHistory(f);
      break;
    case "message":
      onMessage(f.message, true);
      break;
    case "ack":
      onMessage(f.message, false);
      break;
    case "typing":
      onTyping(f);
      break;
    case "online":
      state.online.clear();
      for (const u of f.users) state.online.set(u.id, u);
      renderOnline();
      break;
    case "presence":
      if (f.online) state.online.set(f.user.id, f.user);
      else state.online.delete(f.user.id);
      renderOnline();
      break;
    case "online_changed":
      // many people came or went at once: ask for the list, spread out
      clearTimeout(state.whoTimer);
      state.whoTimer = setTimeout(() => { if (state.me) send({ type: "who" }); }, Math.random() * 3000);
      break;
    case "resync":
      joinAll();
      break;
    case "error":
      onError(f);
      break;
  }
}

function onLogin(f) {
  state.me = f.user;
  state.loginWanted = null;
  saved.name = f.user.name;
  saved.color = f.user.color;
  saved.token = f.token;
  persist();
  $("login").hidden = true;
  $("login-error").textContent = "";
  $("login-submit").disabled = false;
  renderMe();
  $("input").focus();
}

function addChannel(c) {
  const old = state.channels.get(c.id);
  state.channels.set(c.id, { id: c.id, name: c.name, topic: c.topic || "", unread: old ? old.unread : 0 });
}

function ensureCurrent() {
  if (state.channels.has(state.current)) return;
  const general = [...state.channels.values()].find((c) => c.name === "general");
  const first = general || state.channels.values().next().value;
  state.current = first ? first.id : 0;
  renderHeader();
}

// joinAll (re)joins every channel: the current one with its history, the
// others from their newest known message (resync after a reconnect), so
// unread badges count what arrives.
function joinAll() {
  for (const c of state.channels.values()) {
    const s = store(c.id);
    const last = s.msgs.filter((m) => m.id).at(-1);
    if (c.id === state.current && !s.loaded) send({ type: "join", channel: c.id });
    else send({ type: "join", channel: c.id, after: last ? last.ts : Date.now() });
  }
  renderHeader();
  renderMessages(true);
}

function onHistory(f) {
  const s = store(f.channel);
  const box = $("messages");
  const fromBottom = box.scrollHeight - box.scrollTop;
  if (f.reset) { s.msgs = s.msgs.filter((m) => !m.id); s.ids.clear(); }
  let added = 0;
  for (const m of f.messages) {
    if (insert(s, m) && !(state.me && m.user.id === state.me.id)) added++;
  }
  if (f.older) {
    s.more = f.more;
    s.loadingOlder = false;
  } else if (!f.after) {
    s.loaded = true;            // a full first page
    s.more = f.more;
  } else if (f.reset) {
    s.more = true;              // the gap was bigger than a page
  }
  if (f.after && added && f.channel !== state.current) {
    const c = state.channels.get(f.channel);
    if (c) c.unread += added;   // missed while reconnecting
  }
  if (f.channel === state.current) {
    renderMessages(!f.older && (f.after ? atBottom() : true));
    if (f.older) box.scrollTop = box.scrollHeight - fromBottom;
  }
  renderChannels();
}

// insert adds a confirmed message in (ts, id) order; false if known.
function insert(s, m) {
  if (s.ids.has(m.id)) return false;
  // a pending message of ours confirmed by this one
  if (m.nonce && s.nonces.has(m.nonce)) {
    const p = s.nonces.get(m.nonce);
    s.nonces.delete(m.nonce);
    const i = s.msgs.indexOf(p);
    if (i >= 0) s.msgs.splice(i, 1);
  }
  s.ids.add(m.id);
  let i = s.msgs.length;
  while (i > 0 && (!s.msgs[i - 1].id || s.msgs[i - 1].ts > m.ts || (s.msgs[i - 1].ts === m.ts && s.msgs[i - 1].id > m.id))) i--;
  // keep pending messages last
  s.msgs.splice(i, 0, m);
  return true;
}

function onMessage(m, live) {
  const s = store(m.channel);
  const mine = state.me && m.user.id === state.me.id;
  const isNew = insert(s, m);
  const t = state.typers.get(m.channel);
  if (t) t.delete(m.user.id);
  if (isNew && live && !mine && m.channel !== state.current) {
    const c = state.channels.get(m.channel);
    if (c) c.unread++;
    renderChannels();
  }
  if (m.channel === state.current) {
    renderMessages(mine || atBottom());
    renderTyping();
  }
}

function onError(f) {
  if (f.ref === "login") {
    $("login").hidden = false;
    $("login-submit").disabled = false;
    state.loginWanted = null;
    $("login-error").textContent = f.code === "name_taken"
      ? `That name is taken — pick another one.`
      : f.message;
    return;
  }
  if (f.ref === "create_channel") {
    $("new-channel-error").textContent = f.message;
    return;
  }
  if (f.ref === "send" && f.nonce) {
    for (const s of state.stores.values()) {
      const p = s.nonces.get(f.nonce);
      if (p) {
        s.nonces.delete(f.nonce);
        p.pending = false;
        p.failed = f.code === "rate_limited" ? "not sent: slow down" : `not sent: ${f.message}`;
      }
    }
    renderMessages(false);
  }
  if (f.code === "rate_limited" || f.code === "flood") {
    notice(`Slow down — at most ${state.limits.rate_limit || 5} messages per ${state.limits.rate_window_s || 10} seconds.`);
    // the words the tests and users look for
    $("notice").dataset.code = "slow down";
    return;
  }
  if (f.ref === "history") { store(f.channel).loadingOlder = false; }
  notice(f.message);
}

let noticeTimer;
function notice(text) {
  $("notice").textContent = text;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => { $("notice").textContent = ""; }, 6000);
}

function onTyping(f) {
  if (state.me && f.user.id === state.me.id) return;
  let t = state.typers.get(f.channel);
  if (!t) { t = new Map(); state.typers.set(f.channel, t); }
  t.set(f.user.id, { user: f.user, until: Date.now() + 4000 });
  renderTyping();
}

// ---- actions ----
function switchTo(id) {
  if (!state.channels.has(id)) return;
  state.current = id;
  saved.channel = id;
  persist();
  const c = state.channels.get(id);
  c.unread = 0;
  const s = store(id);
  if (!s.loaded) send({ type: "join", channel: id });
  $("app").classList.remove("menu-open");
  renderChannels();
  renderHeader();
  renderMessages(true);
  renderTyping();
  $("input").focus();
}

function sendMessage() {
  const input = $("input");
  const text = input.value.trim();
  if (!text) return;
  if (text.length > (state.limits.max_text || 1000)) {
    notice(`A message is at most ${state.limits.max_text} characters.`);
    return;
  }
  if (!state.me) { notice("Offline — the message was not sent."); return; }
  const nonce = `n${Date.now().toString(36)}${(state.nonceSeq++).toString(36)}`;
  if (!send({ type: "send", channel: state.current, text, nonce })) {
    notice("Offline — the message was not sent.");
    return;
  }
  const s = store(state.current);
  const p = { id: 0, nonce, pending: true, channel: state.current, user: state.me, text, ts: Date.now() };
  s.msgs.push(p);
  s.nonces.set(nonce, p);
  input.value = "";
  autosize();
  renderMessages(true);
}

// ---- rendering ----
function atBottom() {
  const m = $("messages");
  return m.scrollHeight - m.scrollTop - m.clientHeight < 60;
}

function avatar(u) {
  const a = el("span", "avatar", (u.name || "?").slice(0, 1));
  a.setAttribute("aria-hidden", "true");
  a.style.background = COLOR_RE.test(u.color) ? u.color : "#888";
  return a;
}

function fmtTime(ts) {
  return new Date(ts).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function fmtDay(ts) {
  return new Date(ts).toLocaleDateString([], { weekday: "long", month: "short", day: "numeric" });
}

function renderMessages(stick) {
  const list = $("message-list");
  const s = store(state.current);
  const frag = document.createDocumentFragment();
  let prev = null;
  for (const m of s.msgs) {
    if (!prev || new Date(prev.ts).toDateString() !== new Date(m.ts).toDateString()) {
      frag.append(el("li", "day", fmtDay(m.ts)));
      prev = null;
    }
    const li = el("li", "msg");
    li.dataset.id = m.id || "";
    if (m.pending) li.classList.add("pending");
    if (m.failed) li.classList.add("failed");
    if (prev && prev.user.id === m.user.id && m.ts - prev.ts < 5 * 60 * 1000 && !prev.failed) li.classList.add("cont");
    const meta = el("div", "meta");
    const author = el("span", "author", m.user.name);
    author.style.color = COLOR_RE.test(m.user.color) ? m.user.color : "";
    const time = el("time", "time", fmtTime(m.ts));
    time.dateTime = new Date(m.ts).toISOString();
    meta.append(author, time);
    const body = el("div", "body", m.text);
    if (m.pending) body.append(el("span", "state", "sending…"));
    if (m.failed) body.append(el("span", "state", m.failed));
    li.append(avatar(m.user), meta, body);
    frag.append(li);
    prev = m;
  }
  if (!s.msgs.length && s.loaded) {
    const c = state.channels.get(state.current);
    frag.append(el("li", "empty", c ? `No messages in #${c.name} yet. Say hello!` : "No channel."));
  }
  list.replaceChildren(frag);
  $("older").hidden = !s.loadingOlder;
  if (stick) $("messages").scrollTop = $("messages").scrollHeight;
}

function renderChannels() {
  const ul = $("channels");
  const frag = document.createDocumentFragment();
  const sorted = [...state.channels.values()].sort((a, b) => a.name.localeCompare(b.name));
  for (const c of sorted) {
    const li = el("li", c.unread ? "unread" : "");
    const b = el("button");
    b.type = "button";
    b.dataset.channel = c.id;
    b.title = c.topic;
    b.setAttribute("aria-current", c.id === state.current ? "true" : "false");
    b.append(el("span", "hash", "#"), el("span", "name", c.name));
    if (c.unread && c.id !== state.current) {
      const badge = el("span", "badge", c.unread > 99 ? "99+" : String(c.unread));
      badge.setAttribute("aria-label", `${c.unread} unread`);
      b.append(badge);
    }
    b.addEventListener("click", () => switchTo(c.id));
    li.append(b);
    frag.append(li);
  }
  ul.replaceChildren(frag);
  const total = sorted.reduce((n, c) => n + (c.id === state.current ? 0 : c.unread), 0);
  document.title = total ? `(${total}) lux chat` : "lux chat";
}

function renderHeader() {
  const c = state.channels.get(state.current);
  $("channel-name").textContent = c ? `#${c.name}` : "lux chat";
  $("channel-topic").textContent = c ? c.topic : "";
  $("input").placeholder = c ? `Message #${c.name}` : "Message";
}

function renderOnline() {
  const ul = $("online");
  const users = [...state.online.values()].sort((a, b) => a.name.localeCompare(b.name));
  const frag = document.createDocumentFragment();
  for (const u of users) {
    const li = el("li");
    li.dataset.user = u.name;
    const dot = el("span", "dot");
    dot.style.background = COLOR_RE.test(u.color) ? u.color : "";
    li.append(dot, el("span", "", u.name));
    frag.append(li);
  }
  ul.replaceChildren(frag);
  $("online-count").textContent = String(users.length);
}

function renderTyping() {
  const t = state.typers.get(state.current);
  const now = Date.now();
  const names = [];
  if (t) for (const [id, v] of t) { if (v.until < now) t.delete(id); else names.push(v.user.name); }
  let text = "";
  if (names.length === 1) text = `${names[0]} is typing…`;
  else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing…`;
  else if (names.length > 2) text = "Several people are typing…";
  $("typing").textContent = text;
}

function renderMe() {
  const me = $("me");
  if (!state.me) { me.replaceChildren(); return; }
  me.replaceChildren(avatar(state.me), el("span", "", state.me.name));
}

function render() {
  renderChannels();
  renderHeader();
  renderMessages(false);
  renderOnline();
  renderTyping();
  renderMe();
}

// autosize grows the composer with the lines typed (up to 6).
function autosize() {
  const i = $("input");
  const lines = Math.min(6, i.value.split("\n").length);
  i.style.height = lines > 1 ? `${44 + 21 * (lines - 1)}px` : "";
}

// ---- wiring ----
function setupLogin() {
  const sw = $("swatches");
  let chosen = COLOR_RE.test(saved.color || "") ? saved.color : COLORS[Math.floor(Math.random() * COLORS.length)];
  for (const c of COLORS) {
    const b = el("button", "swatch");
    b.type = "button";
    b.style.background = c;
    b.setAttribute("role", "radio");
    b.setAttribute("aria-label", `colour ${c}`);
    b.setAttribute("aria-checked", String(c === chosen));
    b.addEventListener("click", () => {
      chosen = c;
      for (const o of sw.children) o.setAttribute("aria-checked", String(o === b));
    });
    sw.append(b);
  }
  sw.setAttribute("role", "radiogroup");
  if (saved.name) $("login-name").value = saved.name;
  $("login-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const name = $("login-name").value.trim();
    if (!name) return;
    $("login-error").textContent = "";
    $("login-submit").disabled = true;
    state.loginWanted = { name, color: chosen };
    if (state.ws && state.ws.readyState === WebSocket.OPEN) sendLogin();
    else if (!state.ws) connect();
  });
}

function setup() {
  setupLogin();
  $("composer").addEventListener("submit", (e) => { e.preventDefault(); sendMessage(); });
  $("input").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); sendMessage(); }
  });
  $("input").addEventListener("input", () => {
    autosize();
    const now = Date.now();
    if (state.me && $("input").value && now - state.lastTypingSent > 1500) {
      state.lastTypingSent = now;
      send({ type: "typing", channel: state.current });
    }
  });
  $("new-channel").addEventListener("submit", (e) => {
    e.preventDefault();
    send({ type: "create_channel", name: $("new-channel-name").value, topic: $("new-channel-topic").value });
  });
  $("messages").addEventListener("scroll", () => {
    const s = store(state.current);
    if ($("messages").scrollTop < 40 && s.more && !s.loadingOlder) {
      const oldest = s.msgs.find((m) => m.id);
      if (!oldest) return;
      s.loadingOlder = true;
      $("older").hidden = false;
      send({ type: "history", channel: state.current, before: oldest.ts });
    }
  });
  $("open-sidebar").addEventListener("click", () => $("app").classList.add("menu-open"));
  $("close-sidebar").addEventListener("click", () => $("app").classList.remove("menu-open"));
  // leaving the page closes the socket at once (so others see us go),
  // also when the page is kept in the back/forward cache; coming back
  // from that cache connects again
  window.addEventListener("pagehide", () => {
    const ws = state.ws;
    if (!ws) return;
    if (state.me) state.loginWanted = { name: state.me.name, color: state.me.color };
    state.me = null;
    state.ws = null;
    clearTimeout(state.retryTimer);
    ws.close(1000, "page closed");
  });
  window.addEventListener("pageshow", (e) => {
    if (e.persisted && !state.ws) connect();
  });
  setInterval(renderTyping, 1000);
  setInterval(() => { if (state.me) send({ type: "who" }); }, 30000);

  if (saved.name && COLOR_RE.test(saved.color || "") && saved.token) {
    // a returning user: log in again with the saved name and token
    $("login").hidden = true;
    state.loginWanted = { name: saved.name, color: saved.color };
  }
  render();
  connect();
}

setup();
