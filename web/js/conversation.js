// The open conversation: history (newest page first, older pages loaded when the top is
// scrolled into view), live messages, edits, deletions, reactions, replies, attachments,
// read receipts ("Seen") and the composer. Messages are keyed by id, so a message that
// arrives both in a REST answer and as a live frame is shown once; a message being sent
// is shown at once and replaced by the stored one when its `client_msg_id` comes back.

import { $, announce, fileSize, h, hue, initials, longTime, shortTime, uuid } from './dom.js';

const PAGE = 30;
const QUICK_REACTIONS = ['👍', '❤️', '😂', '🎉', '👀', '🙏'];
/** Resend delays for a message the server could not take (it keeps its client_msg_id). */
const RESEND = [1000, 2000, 4000, 8000];
const TYPING_RENEW = 3000;
const TYPING_IDLE = 4000;

export class ConversationView {
  constructor(store, api, live, { onRead }) {
    this.store = store;
    this.api = api;
    this.live = live;
    this.onRead = onRead;
    this.id = null;
    this.list = $('message-list');
    this.scroller = $('messages');
    this.reset();
    this.bindComposer();
    this.observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) this.loadOlder();
    }, { root: this.scroller, rootMargin: '200px 0px 0px 0px' });
    this.observer.observe($('load-older'));
    $('load-older').addEventListener('click', () => this.loadOlder());
    document.addEventListener('visibilitychange', () => this.markRead());
  }

  reset() {
    this.messages = new Map();
    this.elements = new Map();
    this.pending = new Map();
    /** Updates for messages not loaded yet, applied when they arrive. */
    this.waiting = new Map();
    this.nextBefore = null;
    this.loadingOlder = false;
    this.loaded = false;
    this.replyTo = null;
    this.files = [];
    this.list.replaceChildren();
    $('load-older').hidden = true;
    $('history-start').hidden = true;
    $('reply-bar').hidden = true;
    $('pending-files').replaceChildren();
    $('composer-error').textContent = '';
  }

  get conversation() {
    return this.store.conversations.get(this.id);
  }

  async open(id) {
    this.stopTyping();
    this.id = id;
    this.reset();
    $('composer').hidden = false;
    this.renderHeader();
    this.renderTyping();
    const generation = (this.generation = (this.generation ?? 0) + 1);
    try {
      const page = await this.api.get(`/api/conversations/${id}/messages?limit=${PAGE}`);
      if (generation !== this.generation) return;
      this.addHistory(page);
      this.loaded = true;
      this.scrollToBottom();
      this.markRead();
    } catch (error) {
      $('composer-error').textContent = `Could not load the messages: ${error.message}`;
    }
  }

  close() {
    this.stopTyping();
    this.id = null;
    this.reset();
    $('composer').hidden = true;
    $('conversation-title').textContent = 'Pick a conversation';
    $('conversation-sub').textContent = '';
  }

  addHistory(page) {
    for (const message of page.messages) this.add(message, { live: false });
    this.nextBefore = page.next_before;
    $('load-older').hidden = this.nextBefore === null;
    $('history-start').hidden = this.nextBefore !== null;
    this.renderReceipts();
  }

  async loadOlder() {
    if (this.loadingOlder || this.nextBefore === null || !this.id || !this.loaded) return;
    this.loadingOlder = true;
    const id = this.id;
    const button = $('load-older');
    button.textContent = 'Loading older messages…';
    try {
      const page = await this.api.get(`/api/conversations/${id}/messages?limit=${PAGE}&before=${this.nextBefore}`);
      if (id !== this.id) return;
      // Keep what is on screen where it is while older messages go in above it.
      const fromBottom = this.scroller.scrollHeight - this.scroller.scrollTop;
      this.addHistory(page);
      this.scroller.scrollTop = this.scroller.scrollHeight - fromBottom;
    } catch {
      // The next scroll or click tries again.
    } finally {
      button.textContent = 'Load older messages';
      this.loadingOlder = false;
    }
  }

  // ---- messages in -------------------------------------------------------------------

  /** A message from history or a live frame; shown once whatever the order of arrival. */
  add(message, { live }) {
    if (message.conversation_id !== this.id) return;
    const pending = message.client_msg_id && message.sender_id === this.store.me.id
      ? this.pending.get(message.client_msg_id) : null;
    if (pending) {
      this.pending.delete(message.client_msg_id);
      pending.element.remove();
    }
    if (this.messages.has(message.id)) return;
    this.messages.set(message.id, message);
    const element = this.render(message);
    this.elements.set(message.id, element);
    this.insert(element, message.seq);
    for (const update of this.waiting.get(message.id) ?? []) update();
    this.waiting.delete(message.id);
    if (live) {
      const atBottom = this.nearBottom();
      const mine = message.sender_id === this.store.me.id;
      if (atBottom || mine) this.scrollToBottom();
      if (!mine) {
        const who = message.kind === 'system' ? 'Application update' : this.store.name(message.sender_id);
        announce(`${who}: ${message.deleted ? 'message deleted' : message.content}`);
        this.markRead();
      }
      this.renderReceipts();
    }
  }

  /** Inserts by seq (history pages arrive newest first, live ones at the end). */
  insert(element, seq) {
    element.dataset.seq = String(seq);
    let before = null;
    for (let node = this.list.lastElementChild; node; node = node.previousElementSibling) {
      const other = Number(node.dataset.seq);
      if (Number.isFinite(other) && other < seq) break;
      if (node.dataset.pending !== undefined || other > seq) before = node;
    }
    this.list.insertBefore(element, before);
  }

  /** Runs `update` on a message now, or when it is loaded (it may be in an older page). */
  whenLoaded(messageId, update) {
    if (this.messages.has(messageId)) update();
    else {
      const list = this.waiting.get(messageId) ?? [];
      list.push(update);
      this.waiting.set(messageId, list);
    }
  }

  edited(data) {
    this.whenLoaded(data.message_id, () => {
      const message = this.messages.get(data.message_id);
      message.content = data.content;
      message.edited_at = data.edited_at;
      this.rerender(message);
    });
  }

  deleted(data) {
    this.whenLoaded(data.message_id, () => {
      const message = this.messages.get(data.message_id);
      message.deleted = true;
      message.content = '';
      message.attachments = [];
      this.rerender(message);
    });
  }

  reaction(type, data) {
    this.whenLoaded(data.message_id, () => {
      const message = this.messages.get(data.message_id);
      const users = new Set(message.reactions?.[data.emoji] ?? []);
      if (type === 'reaction.added') users.add(data.user_id);
      else users.delete(data.user_id);
      message.reactions = { ...message.reactions, [data.emoji]: [...users] };
      if (!users.size) delete message.reactions[data.emoji];
      this.rerender(message);
    });
  }

  rerender(message) {
    const old = this.elements.get(message.id);
    if (!old) return;
    const hadFocus = old.contains(document.activeElement) ? document.activeElement.dataset.action : null;
    const element = this.render(message);
    element.dataset.seq = old.dataset.seq;
    old.replaceWith(element);
    this.elements.set(message.id, element);
    if (hadFocus) element.querySelector(`[data-action="${hadFocus}"]`)?.focus();
    this.renderReceipts();
  }

  // ---- rendering ----------------------------------------------------------------------

  render(message) {
    if (message.kind === 'system') return this.renderSystem(message);
    const me = this.store.me.id;
    const mine = message.sender_id === me;
    const name = mine ? 'You' : this.store.name(message.sender_id);
    const avatar = h('span', { class: 'avatar small', 'aria-hidden': 'true' }, initials(name));
    avatar.style.setProperty('--hue', hue(message.sender_id));
    const body = message.deleted
      ? h('p', { class: 'content deleted' }, 'Message deleted')
      : h('p', { class: 'content' }, message.content);
    // Focusable (not in the tab order) so that a tap shows the message's actions on a phone.
    return h('li', { class: `message ${mine ? 'mine' : 'theirs'}`, id: `m-${message.id}`, tabindex: '-1', dataset: { id: message.id } },
      mine ? null : avatar,
      h('div', { class: 'stack' }, h('div', { class: 'bubble' },
        h('span', { class: 'author' }, name),
        message.reply_to ? this.renderQuote(message) : null,
        body,
        message.deleted ? null : this.renderFiles(message),
        h('span', { class: 'meta' },
          h('time', { datetime: message.created_at, title: longTime(message.created_at) }, shortTime(message.created_at)),
          message.edited_at && !message.deleted ? h('span', { class: 'edited', title: longTime(message.edited_at) }, ' · edited') : null,
          mine ? h('span', { class: 'receipt' }) : null)),
      message.deleted ? null : this.renderReactions(message)),
      message.deleted ? null : this.renderActions(message, mine));
  }

  renderSystem(message) {
    const system = message.system ?? {};
    const detail = [system.application_id && `application ${system.application_id}`, system.status && `status: ${system.status}`]
      .filter(Boolean).join(' · ');
    return h('li', { class: 'message system', id: `m-${message.id}`, dataset: { id: message.id } },
      h('div', { class: 'system-card', role: 'note', 'aria-label': 'Application update' },
        h('span', { class: 'system-label' }, '📋 Application update'),
        h('p', { class: 'content' }, message.content),
        detail ? h('p', { class: 'system-detail' }, detail) : null,
        h('time', { datetime: message.created_at, title: longTime(message.created_at) }, shortTime(message.created_at))));
  }

  renderQuote(message) {
    const original = this.messages.get(message.reply_to);
    const text = original ? (original.deleted ? 'Message deleted' : original.content) : (message.reply_preview ?? 'an earlier message');
    const who = original ? (original.sender_id === this.store.me.id ? 'You' : this.store.name(original.sender_id)) : '';
    return h('a', {
      class: 'quote',
      href: `#m-${message.reply_to}`,
      onclick: (event) => {
        event.preventDefault();
        const target = this.elements.get(message.reply_to);
        if (target) {
          target.scrollIntoView({ block: 'center' });
          target.classList.add('flash');
          setTimeout(() => target.classList.remove('flash'), 1200);
        }
      },
    }, h('span', { class: 'visually-hidden' }, 'In reply to '), who ? h('strong', {}, `${who}: `) : null, text.slice(0, 140));
  }

  renderFiles(message) {
    if (!message.attachments?.length) return null;
    return h('ul', { class: 'files', 'aria-label': 'Attachments' }, message.attachments.map((file) => {
      const item = h('li', {},
        h('button', {
          type: 'button',
          class: 'file',
          dataset: { action: `file-${file.id}` },
          onclick: () => this.download(file),
        }, h('span', { 'aria-hidden': 'true' }, '📄 '), file.name, h('span', { class: 'size' }, ` · ${fileSize(file.size)}`),
        h('span', { class: 'visually-hidden' }, ', download')));
      if (file.content_type?.startsWith('image/') && file.size < 5 * 1024 * 1024) this.thumbnail(item, file);
      return item;
    }));
  }

  async thumbnail(item, file) {
    try {
      const blob = await this.api.download(file.id);
      const image = h('img', { class: 'thumb', alt: file.name, src: URL.createObjectURL(blob) });
      item.prepend(image);
    } catch {
      // The download button is still there.
    }
  }

  async download(file) {
    try {
      const blob = await this.api.download(file.id);
      const url = URL.createObjectURL(blob);
      const link = h('a', { href: url, download: file.name, hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    } catch (error) {
      $('composer-error').textContent = `Could not download ${file.name}: ${error.message}`;
    }
  }

  renderReactions(message) {
    const entries = Object.entries(message.reactions ?? {}).filter(([, users]) => users.length);
    if (!entries.length) return null;
    const me = this.store.me.id;
    return h('div', { class: 'reactions' }, entries.map(([emoji, users]) => {
      const mine = users.includes(me);
      const names = users.map((u) => (u === me ? 'you' : this.store.name(u))).join(', ');
      return h('button', {
        type: 'button',
        class: 'reaction',
        'aria-pressed': mine ? 'true' : 'false',
        title: names,
        'aria-label': `${emoji} ${users.length}, from ${names}`,
        dataset: { action: `reaction-${emoji}` },
        onclick: () => this.toggleReaction(message, emoji),
      }, `${emoji} ${users.length}`);
    }));
  }

  renderActions(message, mine) {
    const picker = h('div', { class: 'picker', role: 'group', 'aria-label': 'Pick a reaction', hidden: true },
      QUICK_REACTIONS.map((emoji) => h('button', {
        type: 'button',
        'aria-label': `React ${emoji}`,
        onclick: () => {
          picker.hidden = true;
          this.toggleReaction(message, emoji);
        },
      }, emoji)));
    const actions = [
      h('button', {
        type: 'button', dataset: { action: 'react' }, 'aria-expanded': 'false', 'aria-label': 'React',
        onclick: (event) => {
          picker.hidden = !picker.hidden;
          event.currentTarget.setAttribute('aria-expanded', String(!picker.hidden));
          if (!picker.hidden) picker.querySelector('button').focus();
        },
      }, '☺'),
      h('button', { type: 'button', dataset: { action: 'reply' }, onclick: () => this.startReply(message) }, 'Reply'),
    ];
    if (mine) {
      actions.push(h('button', { type: 'button', dataset: { action: 'edit' }, onclick: () => this.startEdit(message) }, 'Edit'));
      const remove = h('button', {
        type: 'button', class: 'danger', dataset: { action: 'delete' },
        onclick: () => {
          if (remove.dataset.armed) {
            this.remove(message);
          } else {
            remove.dataset.armed = 'yes';
            remove.textContent = 'Delete?';
            remove.setAttribute('aria-label', 'Confirm: delete this message');
            setTimeout(() => {
              delete remove.dataset.armed;
              remove.textContent = 'Delete';
              remove.removeAttribute('aria-label');
            }, 4000);
          }
        },
      }, 'Delete');
      actions.push(remove);
    }
    const node = h('div', { class: 'actions', role: 'group', 'aria-label': 'Message actions' }, actions, picker);
    node.addEventListener('keydown', (event) => {
      if (event.key === 'Escape' && !picker.hidden) {
        picker.hidden = true;
        node.querySelector('[data-action="react"]').focus();
      }
    });
    return node;
  }

  /** "Seen" under the newest of my messages someone else has read; the others get a tick. */
  renderReceipts() {
    const conversation = this.conversation;
    if (!conversation) return;
    const me = this.store.me.id;
    const receipts = Object.entries(conversation.receipts ?? {}).filter(([user]) => user !== me);
    const seenSeq = Math.max(0, ...receipts.map(([, seq]) => seq));
    let newestSeen = null;
    for (const message of this.messages.values()) {
      if (message.sender_id === me && message.seq <= seenSeq && (!newestSeen || message.seq > newestSeen.seq)) newestSeen = message;
    }
    for (const [id, element] of this.elements) {
      const label = element.querySelector('.receipt');
      if (!label) continue;
      const message = this.messages.get(id);
      const seen = message.seq <= seenSeq;
      label.textContent = message === newestSeen ? ' · Seen' : seen ? ' · ✓✓' : ' · ✓';
      label.title = seen ? 'seen' : 'sent';
      label.classList.toggle('seen', message === newestSeen);
    }
  }

  renderHeader() {
    const conversation = this.conversation;
    if (!conversation) return;
    $('conversation-title').textContent = this.store.title(conversation);
    const others = this.store.others(conversation);
    $('conversation-sub').replaceChildren(...others.flatMap((id, i) => {
      const presence = this.store.presence.get(id);
      const online = presence?.status === 'online';
      const state = online ? 'online' : presence?.last_seen ? `last seen ${shortTime(presence.last_seen)}` : 'offline';
      return [i ? ', ' : '', h('span', { class: `presence-inline ${online ? 'online' : 'offline'}` },
        h('span', { class: 'presence', 'aria-hidden': 'true' }), `${this.store.name(id)} (${id}) · ${state}`)];
    }));
  }

  renderTyping() {
    const names = this.id ? this.store.typingNames(this.id) : [];
    $('typing').textContent = names.length ? `${names.join(' and ')} ${names.length > 1 ? 'are' : 'is'} typing…` : '';
  }

  nearBottom() {
    return this.scroller.scrollHeight - this.scroller.scrollTop - this.scroller.clientHeight < 120;
  }

  scrollToBottom() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
  }

  // ---- read receipts ------------------------------------------------------------------

  /** Marks everything shown as read while the page is visible. */
  markRead() {
    const conversation = this.conversation;
    if (!conversation || !this.loaded || document.visibilityState !== 'visible') return;
    let newest = 0;
    for (const message of this.messages.values()) {
      if (message.sender_id !== this.store.me.id && message.seq > newest) newest = message.seq;
    }
    if (newest <= (conversation.last_read_seq ?? 0) && !conversation.unread_count) return;
    const upTo = Math.max(newest, conversation.last_read_seq ?? 0);
    conversation.last_read_seq = upTo;
    this.onRead(conversation, upTo);
  }

  // ---- actions ------------------------------------------------------------------------

  async toggleReaction(message, emoji) {
    const mine = (message.reactions?.[emoji] ?? []).includes(this.store.me.id);
    try {
      if (mine) await this.api.delete(`/api/messages/${message.id}/reactions/${encodeURIComponent(emoji)}`);
      else await this.api.post(`/api/messages/${message.id}/reactions`, { emoji });
    } catch (error) {
      $('composer-error').textContent = `Could not react: ${error.message}`;
    }
  }

  startReply(message) {
    this.replyTo = message;
    $('reply-text').textContent = (message.content || '').slice(0, 80);
    $('reply-bar').hidden = false;
    $('composer-input').focus();
  }

  cancelReply() {
    this.replyTo = null;
    $('reply-bar').hidden = true;
  }

  startEdit(message) {
    const element = this.elements.get(message.id);
    const content = element?.querySelector('.content');
    if (!content) return;
    const id = `edit-${message.id}`;
    const input = h('textarea', { id, class: 'edit-input', rows: 2 });
    input.value = message.content;
    const cancel = () => this.rerender(message);
    const form = h('form', {
      class: 'edit-form',
      onsubmit: async (event) => {
        event.preventDefault();
        const text = input.value.trim();
        if (!text || text === message.content) return cancel();
        try {
          const answer = await this.api.patch(`/api/messages/${message.id}`, { content: text });
          if (answer.status === 200 && answer.body) {
            this.edited({ message_id: message.id, content: answer.body.content, edited_at: answer.body.edited_at });
          }
          this.elements.get(message.id)?.querySelector('[data-action="edit"]')?.focus();
        } catch (error) {
          $('composer-error').textContent = `Could not edit: ${error.message}`;
        }
      },
    },
    h('label', { for: id, class: 'visually-hidden' }, 'Edit message'),
    input,
    h('span', { class: 'edit-buttons' },
      h('button', { type: 'submit', class: 'primary small' }, 'Save'),
      h('button', { type: 'button', class: 'ghost small', onclick: cancel }, 'Cancel')));
    input.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') cancel();
      if (event.key === 'Enter' && !event.shiftKey) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    content.replaceWith(form);
    input.focus();
  }

  async remove(message) {
    try {
      await this.api.delete(`/api/messages/${message.id}`);
      this.deleted({ message_id: message.id });
      $('composer-input').focus();
    } catch (error) {
      $('composer-error').textContent = `Could not delete: ${error.message}`;
    }
  }

  // ---- composer -----------------------------------------------------------------------

  bindComposer() {
    const input = $('composer-input');
    $('composer').addEventListener('submit', (event) => {
      event.preventDefault();
      this.submit();
    });
    input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.submit();
      }
      if (event.key === 'Escape' && this.replyTo) this.cancelReply();
    });
    input.addEventListener('input', () => {
      input.style.height = 'auto';
      input.style.height = `${Math.min(input.scrollHeight, 160)}px`;
      if (input.value.trim()) this.typing();
      else this.stopTyping();
    });
    $('reply-cancel').addEventListener('click', () => {
      this.cancelReply();
      input.focus();
    });
    $('file-input').addEventListener('change', (event) => {
      for (const file of event.target.files) this.attach(file);
      event.target.value = '';
    });
  }

  typing() {
    const now = Date.now();
    if (!this.typingSince || now - this.typingSince > TYPING_RENEW) {
      this.typingSince = now;
      this.sendTyping(true);
    }
    clearTimeout(this.typingIdle);
    this.typingIdle = setTimeout(() => this.stopTyping(), TYPING_IDLE);
  }

  stopTyping() {
    clearTimeout(this.typingIdle);
    if (this.typingSince && this.id) this.sendTyping(false);
    this.typingSince = null;
  }

  sendTyping(isTyping) {
    const frame = { type: 'typing', conversation_id: this.id, is_typing: isTyping };
    if (!this.live.send(frame)) {
      this.api.post(`/api/conversations/${this.id}/typing`, { is_typing: isTyping }).catch(() => {});
    }
  }

  async attach(file) {
    const chip = h('li', { class: 'pending-file' }, `📄 ${file.name} · uploading…`);
    $('pending-files').append(chip);
    try {
      const uploaded = await this.api.upload(file);
      const entry = { uploaded, chip };
      this.files.push(entry);
      chip.replaceChildren(`📄 ${uploaded.name} · ${fileSize(uploaded.size)} `,
        h('button', {
          type: 'button', class: 'ghost small', 'aria-label': `Remove ${uploaded.name}`,
          onclick: () => {
            this.files = this.files.filter((f) => f !== entry);
            chip.remove();
            $('composer-input').focus();
          },
        }, '×'));
    } catch (error) {
      chip.remove();
      $('composer-error').textContent = `Could not upload ${file.name}: ${error.message}`;
    }
  }

  submit() {
    const input = $('composer-input');
    const text = input.value.trim();
    const files = this.files.map((f) => f.uploaded);
    if (!text && !files.length) return;
    $('composer-error').textContent = '';
    const body = {
      conversation_id: this.id,
      content: text || files.map((f) => f.name).join(', '),
      client_msg_id: uuid(),
    };
    if (this.replyTo) body.reply_to = this.replyTo.id;
    if (files.length) body.attachment_ids = files.map((f) => f.id);
    for (const f of this.files) f.chip.remove();
    this.files = [];
    input.value = '';
    input.style.height = 'auto';
    this.cancelReply();
    this.stopTyping();
    this.sendPending(body, files);
  }

  /** Shows the message at once as "Sending…" and posts it until the server has it. */
  sendPending(body, files) {
    const element = h('li', { class: 'message mine pending', dataset: { pending: body.client_msg_id } },
      h('div', { class: 'bubble' },
        h('p', { class: 'content' }, body.content),
        files.length ? h('ul', { class: 'files' }, files.map((f) => h('li', {}, h('span', { class: 'file' }, `📄 ${f.name}`)))) : null,
        h('span', { class: 'meta' }, h('span', { class: 'state' }, 'Sending…'))));
    const pending = { body, element, attempt: 0 };
    this.pending.set(body.client_msg_id, pending);
    this.list.append(element);
    this.scrollToBottom();
    this.post(pending);
  }

  async post(pending) {
    const { body, element } = pending;
    const state = element.querySelector('.state');
    try {
      const answer = await this.api.post('/api/messages', body);
      // 201/200: the message (a repeat answers with the original); 202: it comes as a frame.
      if (answer.body?.id && answer.body.seq !== undefined && answer.body.content !== undefined) {
        if (body.conversation_id === this.id) this.add(answer.body, { live: true });
      } else {
        state.textContent = 'Sent';
      }
    } catch (error) {
      // Retried even when another conversation was opened meanwhile: the server keeps one
      // message per client_msg_id, so a retry of a send that did land is harmless.
      if (error.transient) {
        const wait = RESEND[Math.min(pending.attempt++, RESEND.length - 1)];
        state.textContent = 'Not sent yet, retrying…';
        setTimeout(() => this.post(pending), wait);
      } else {
        state.textContent = `Not sent: ${error.message} `;
        state.append(h('button', {
          type: 'button', class: 'ghost small',
          onclick: () => {
            state.textContent = 'Sending…';
            this.post(pending);
          },
        }, 'Retry'));
      }
    }
  }
}
