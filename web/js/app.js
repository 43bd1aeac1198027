// The page: sign-in, the shared state (conversations, profiles, presence, typing), the live
// session's frames applied to it, and navigation between the list and a conversation
// (`#c=<id>` in the address, so the phone's back button works).

import { Api, ApiError, devToken, hasDevSignIn } from './api.js';
import { ConversationView } from './conversation.js';
import { $, announce } from './dom.js';
import { ConversationList } from './list.js';
import { Live } from './live.js';

const TOKEN_KEY = 'parley.token';
/** A typing signal that is neither renewed nor ended is dropped after this (the server says 10 s). */
const TYPING_FALLBACK = 12_000;

class Store {
  constructor(me) {
    this.me = me;
    this.conversations = new Map();
    this.profiles = new Map();
    this.presence = new Map();
    /** conversation id -> Map(user id -> expiry timer) */
    this.typing = new Map();
    this.currentId = null;
  }

  name(id) {
    if (!id) return 'Parley';
    if (id === this.me.id) return this.me.name || id;
    return this.profiles.get(id)?.name || id;
  }

  others(conversation) {
    return conversation.participants.map((p) => p.user_id).filter((id) => id !== this.me.id);
  }

  title(conversation) {
    return conversation.title || this.others(conversation).map((id) => this.name(id)).join(', ') || 'Only you';
  }

  typingNames(conversationId) {
    const typing = this.typing.get(conversationId);
    return typing ? [...typing.keys()].map((id) => this.name(id)) : [];
  }
}

let store;
let api;
let live;
let list;
let view;

// ---- sign-in ------------------------------------------------------------------------------

function slug(name) {
  return name.trim().toLowerCase().normalize('NFKD').replace(/[\u0300-\u036f]/g, '')
    .replace(/\s+/g, '.').replace(/[^a-z0-9_.:@-]/g, '').slice(0, 64);
}

async function showSignIn(message = '') {
  $('app').hidden = true;
  $('whoami').hidden = true;
  $('connection').hidden = true;
  $('signin').hidden = false;
  $('signin-error').textContent = message;
  const dev = await hasDevSignIn();
  $('dev-signin').hidden = !dev;
  $('token-details').open = !dev;
  $('token-hint').textContent = dev
    ? 'Paste a token, for example from parley token --sub ada --role recruiter.'
    : 'This server verifies tokens from your identity provider: paste one to sign in.';
  (dev ? $('signin-name') : $('signin-token')).focus();
}

function bindSignIn() {
  let idEdited = false;
  $('signin-id').addEventListener('input', () => { idEdited = true; });
  $('signin-name').addEventListener('input', () => {
    if (!idEdited) $('signin-id').value = slug($('signin-name').value);
  });
  $('dev-signin').addEventListener('submit', async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    const name = String(form.get('name') || '').trim();
    const userId = String(form.get('user_id') || '').trim() || slug(name);
    if (!name || !userId) {
      $('signin-error').textContent = 'Enter your name and a user id.';
      return;
    }
    try {
      const minted = await devToken({ user_id: userId, role: form.get('role'), name });
      if (!minted) return showSignIn('This server has no development sign-in: paste a token.');
      const signedIn = new Api(minted.token);
      // The display name others see comes from the profile, not from the token.
      await signedIn.put('/api/users/me', { name }).catch(() => {});
      await start(minted.token);
    } catch (error) {
      $('signin-error').textContent = `Could not sign in: ${error.message}`;
    }
  });
  $('token-signin').addEventListener('submit', async (event) => {
    event.preventDefault();
    const token = $('signin-token').value.trim();
    if (!token) return;
    try {
      await start(token);
    } catch (error) {
      $('signin-error').textContent = `Could not sign in: ${error.message}`;
    }
  });
  $('sign-out').addEventListener('click', () => signOut());
}

function signOut(message = '') {
  live?.stop();
  sessionStorage.removeItem(TOKEN_KEY);
  if (message) sessionStorage.setItem('parley.message', message);
  window.location.hash = '';
  window.location.reload();
}

// ---- start --------------------------------------------------------------------------------

async function start(token) {
  api = new Api(token);
  const me = await api.get('/api/users/me');
  api.onUnauthorized = () => signOut('Your session ended (the token expired or was refused): sign in again.');
  sessionStorage.setItem(TOKEN_KEY, token);
  store = new Store({ id: me.id, name: me.name, role: me.role });
  $('signin').hidden = true;
  $('app').hidden = false;
  $('whoami').hidden = false;
  $('connection').hidden = false;
  $('me-name').textContent = `${me.name || me.id} (${me.id})`;
  $('me-role').textContent = me.role;
  live = new Live(api, {
    onFrame,
    onStatus: showStatus,
    onOpen: ({ resumed }) => {
      if (resumed) {
        announce('Reconnected');
        refresh();
      }
    },
    onUnauthorized: () => signOut('Your session ended (the token expired): sign in again.'),
    onResumeRefused: () => window.location.reload(),
  });
  list = new ConversationList(store, { onOpen: (id) => { window.location.hash = `c=${id}`; } });
  view = new ConversationView(store, api, live, { onRead: markRead });
  bindApp();
  await loadConversations();
  // Everything up to here is in what was just read; the session replays what came after.
  const since = Math.max(0, ...[...store.conversations.values()].map((c) => c.last_seq ?? 0));
  live.start(since);
  route();
}

function showStatus(state) {
  const labels = { connecting: 'Connecting…', online: 'Live', reconnecting: 'Reconnecting…', offline: 'Offline' };
  $('connection').dataset.state = state;
  $('connection-text').textContent = labels[state] ?? state;
  document.body.dataset.connection = state;
}

/** After a reconnection: what signals would have said meanwhile (unread counts, presence). */
async function refresh() {
  try {
    await loadConversations();
    await refreshPresence();
  } catch {
    // The next reconnection tries again.
  }
}

async function loadConversations() {
  let cursor = null;
  for (let page = 0; page < 10; page += 1) {
    const query = `limit=100${cursor ? `&cursor=${cursor}` : ''}`;
    const answer = await api.get(`/api/users/${encodeURIComponent(store.me.id)}/conversations?${query}`);
    for (const conversation of answer.conversations) merge(conversation);
    cursor = answer.next_cursor;
    if (!cursor) break;
  }
  await loadProfiles();
  list.render();
  view.renderHeader();
}

/** Takes a conversation from a REST answer, keeping what live frames told since. */
function merge(conversation) {
  const known = store.conversations.get(conversation.id);
  const last = [known?.last_message, conversation.last_message]
    .filter(Boolean).sort((a, b) => b.seq - a.seq)[0] ?? null;
  const merged = {
    ...known,
    ...conversation,
    last_message: last,
    receipts: known?.receipts ?? {},
    activity: Math.max(known?.activity ?? 0, last?.seq ?? 0, conversation.last_message ? 0 : conversation.last_seq ?? 0),
    last_read_seq: Math.max(known?.last_read_seq ?? 0, conversation.last_read_seq ?? 0),
  };
  store.conversations.set(conversation.id, merged);
  return merged;
}

/** Profiles (names) and presence of co-participants not known yet; false if some failed. */
async function loadProfiles() {
  const ids = new Set();
  for (const conversation of store.conversations.values()) {
    for (const id of store.others(conversation)) if (!store.profiles.has(id)) ids.add(id);
  }
  const loaded = await Promise.all([...ids].map(async (id) => {
    try {
      const profile = await api.get(`/api/users/${encodeURIComponent(id)}`);
      store.profiles.set(id, profile);
      store.presence.set(id, { status: profile.status, last_seen: profile.last_seen });
      return true;
    } catch {
      return false;
    }
  }));
  return loaded.every(Boolean);
}

/**
 * After a frame names someone new (a conversation created with us, a participant added):
 * their profile and presence, retried while the read models catch up with that frame (until
 * then the server does not know that we share a conversation).
 */
async function learnPeople(attempt = 0) {
  const complete = await loadProfiles();
  list.render();
  view.renderHeader();
  if (!complete && attempt < 6) setTimeout(() => learnPeople(attempt + 1), 200 * 2 ** attempt);
}

async function refreshPresence() {
  const ids = [...new Set([...store.conversations.values()].flatMap((c) => store.others(c)))];
  for (let i = 0; i < ids.length; i += 50) {
    const chunk = ids.slice(i, i + 50).map(encodeURIComponent).join(',');
    const answer = await api.get(`/api/presence?user_ids=${chunk}`);
    for (const p of answer) store.presence.set(p.user_id, { status: p.status, last_seen: p.last_seen });
  }
  list.render();
  view.renderHeader();
}

/** A conversation the page learns of from a frame (added to it, or a frame ahead of the list). */
async function fetchConversation(id, attempt = 0) {
  try {
    merge(await api.get(`/api/conversations/${id}`));
    await learnPeople();
  } catch (error) {
    // The read models may not include it yet.
    if (error instanceof ApiError && (error.status === 404 || error.transient) && attempt < 5) {
      setTimeout(() => fetchConversation(id, attempt + 1), 300 * (attempt + 1));
    }
  }
}

function markRead(conversation, upTo) {
  conversation.unread_count = 0;
  list.render();
  const frame = { type: 'read', conversation_id: conversation.id };
  if (upTo > 0) frame.up_to_seq = upTo;
  if (!live.send(frame)) {
    api.put(`/api/conversations/${conversation.id}/read`, upTo > 0 ? { up_to_seq: upTo } : undefined).catch(() => {});
  }
}

// ---- live frames --------------------------------------------------------------------------

function onFrame(frame) {
  const conversation = store.conversations.get(frame.conversation_id);
  const current = frame.conversation_id && frame.conversation_id === store.currentId;
  const data = frame.data ?? {};
  switch (frame.type) {
    case 'message.sent': {
      if (!conversation) {
        fetchConversation(frame.conversation_id);
        break;
      }
      if (!conversation.last_message || data.seq >= conversation.last_message.seq) conversation.last_message = data;
      conversation.activity = Math.max(conversation.activity ?? 0, frame.seq);
      conversation.last_seq = Math.max(conversation.last_seq ?? 0, frame.seq);
      if (data.sender_id) setTyping(frame.conversation_id, data.sender_id, false);
      if (current) view.add(data, { live: true });
      else if (data.sender_id !== store.me.id) {
        announce(`New message from ${data.kind === 'system' ? 'Parley' : store.name(data.sender_id)} in ${store.title(conversation)}`);
      }
      break;
    }
    case 'message.edited':
    case 'message.deleted': {
      const last = conversation?.last_message;
      if (last && last.id === data.message_id) {
        if (frame.type === 'message.edited') last.content = data.content;
        else Object.assign(last, { deleted: true, content: '' });
      }
      if (current) frame.type === 'message.edited' ? view.edited(data) : view.deleted(data);
      break;
    }
    case 'reaction.added':
    case 'reaction.removed':
      if (current) view.reaction(frame.type, data);
      break;
    case 'messages.read':
      if (!conversation) break;
      conversation.receipts[data.user_id] = Math.max(conversation.receipts[data.user_id] ?? 0, data.up_to_seq);
      if (data.user_id === store.me.id) conversation.last_read_seq = Math.max(conversation.last_read_seq ?? 0, data.up_to_seq);
      if (current) view.renderReceipts();
      break;
    case 'conversation.created': {
      const created = merge({ ...data, last_message: null, unread_count: 0, last_read_seq: 0, last_seq: frame.seq });
      created.activity = frame.seq;
      learnPeople();
      if (data.created_by !== store.me.id) announce(`${store.name(data.created_by)} started a conversation with you`);
      break;
    }
    case 'participant.added':
      if (data.user_id === store.me.id && !conversation) fetchConversation(frame.conversation_id);
      else if (conversation && !conversation.participants.some((p) => p.user_id === data.user_id)) {
        conversation.participants.push({ user_id: data.user_id, role: data.role, joined_at: frame.occurred_at });
        learnPeople();
      }
      break;
    case 'participant.removed':
      if (data.user_id === store.me.id) {
        store.conversations.delete(frame.conversation_id);
        if (current) window.location.hash = '';
      } else if (conversation) {
        conversation.participants = conversation.participants.filter((p) => p.user_id !== data.user_id);
      }
      break;
    case 'typing':
      if (frame.user_id !== store.me.id) setTyping(frame.conversation_id, frame.user_id, frame.is_typing);
      break;
    case 'presence':
      store.presence.set(frame.user_id, { status: frame.status, last_seen: frame.last_seen });
      view.renderHeader();
      break;
    case 'unread':
      if (conversation) conversation.unread_count = frame.unread;
      break;
    default:
      return;
  }
  list.render();
  if (current && frame.type.startsWith('participant')) view.renderHeader();
}

function setTyping(conversationId, userId, isTyping) {
  const typing = store.typing.get(conversationId) ?? new Map();
  clearTimeout(typing.get(userId));
  if (isTyping) typing.set(userId, setTimeout(() => setTyping(conversationId, userId, false), TYPING_FALLBACK));
  else typing.delete(userId);
  if (typing.size) store.typing.set(conversationId, typing);
  else store.typing.delete(conversationId);
  list.render();
  if (conversationId === store.currentId) view.renderTyping();
}

// ---- navigation ---------------------------------------------------------------------------

function route() {
  const match = /^#c=([0-9a-f-]{36})$/.exec(window.location.hash);
  const id = match ? match[1] : null;
  if (id === store.currentId) return;
  store.currentId = id;
  document.body.classList.toggle('in-conversation', !!id);
  if (id) {
    if (!store.conversations.has(id)) fetchConversation(id);
    view.open(id);
    const narrow = window.matchMedia('(max-width: 720px)').matches;
    (narrow ? $('conversation-title') : $('composer-input')).focus();
  } else {
    view.close();
  }
  list.render();
}

let bound = false;
function bindApp() {
  if (bound) return;
  bound = true;
  window.addEventListener('hashchange', route);
  $('back').addEventListener('click', () => {
    const id = store.currentId;
    window.location.hash = '';
    list.items.get(id)?.querySelector('button')?.focus();
  });
  $('new-conversation-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const userId = $('new-user').value.trim();
    const title = $('new-title').value.trim();
    $('new-error').textContent = '';
    if (!userId) {
      $('new-error').textContent = 'Enter the user id of the person to talk to.';
      return;
    }
    if (userId === store.me.id) {
      $('new-error').textContent = 'That is your own id: enter someone else’s.';
      return;
    }
    const body = { participant_ids: [userId], kind: 'direct' };
    if (title) body.title = title;
    try {
      const answer = await api.post('/api/conversations', body);
      const id = answer.body.id;
      if (answer.body.participants) merge(answer.body);
      else fetchConversation(id);
      await loadProfiles();
      list.render();
      $('new-user').value = '';
      $('new-title').value = '';
      $('new-conversation').open = false;
      window.location.hash = `c=${id}`;
    } catch (error) {
      $('new-error').textContent = `Could not start the conversation: ${error.message}`;
    }
  });
}

// ---- boot ---------------------------------------------------------------------------------

async function boot() {
  bindSignIn();
  const message = sessionStorage.getItem('parley.message');
  sessionStorage.removeItem('parley.message');
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token && !message) {
    try {
      await start(token);
      return;
    } catch {
      sessionStorage.removeItem(TOKEN_KEY);
    }
  }
  showSignIn(message ?? '');
}

boot();
