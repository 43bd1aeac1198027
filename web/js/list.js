// The conversation list: one button per conversation with its title, last message (or who is
// typing), time, unread badge and the other participants' presence. Items are kept and
// updated in place, keyed by conversation id, so focus and screen-reader position survive
// live updates; they are only moved when the order (most recent activity first) changes.

import { $, h, hue, initials, shortTime } from './dom.js';

/** Most recent activity first. */
function byActivity(a, b) {
  return activity(b) - activity(a);
}

function activity(conversation) {
  return Math.max(conversation.last_message?.seq ?? 0, conversation.activity ?? 0);
}

export function preview(store, conversation) {
  const typing = store.typingNames(conversation.id);
  if (typing.length) return { text: `${typing.join(', ')} ${typing.length > 1 ? 'are' : 'is'} typing…`, typing: true };
  const last = conversation.last_message;
  if (!last) return { text: 'No messages yet' };
  if (last.deleted) return { text: 'Message deleted' };
  if (last.kind === 'system') return { text: `Update: ${last.content}` };
  const who = last.sender_id === store.me.id ? 'You' : store.name(last.sender_id);
  const files = last.attachments?.length ? `📎 ` : '';
  return { text: `${who}: ${files}${last.content}` };
}

export class ConversationList {
  constructor(store, { onOpen }) {
    this.store = store;
    this.onOpen = onOpen;
    this.items = new Map();
    this.list = $('conversations');
  }

  /** Re-renders every item (cheap: a few dozen at most) and reorders when needed. */
  render() {
    const conversations = [...this.store.conversations.values()].sort(byActivity);
    for (const [id, item] of this.items) {
      if (!this.store.conversations.has(id)) {
        item.remove();
        this.items.delete(id);
      }
    }
    conversations.forEach((conversation, index) => {
      let item = this.items.get(conversation.id);
      if (!item) {
        item = h('li', { dataset: { id: conversation.id } });
        this.items.set(conversation.id, item);
      }
      this.fill(item, conversation);
      if (this.list.children[index] !== item) this.list.insertBefore(item, this.list.children[index] ?? null);
    });
    $('empty-list').hidden = conversations.length > 0;
    const total = conversations.reduce((sum, c) => sum + (c.unread_count || 0), 0);
    const badge = $('total-unread');
    badge.hidden = total === 0;
    badge.textContent = String(total);
    badge.setAttribute('aria-label', `${total} unread`);
    document.title = total ? `(${total}) Parley` : 'Parley';
  }

  fill(item, conversation) {
    const store = this.store;
    const others = store.others(conversation);
    const online = others.some((id) => store.presence.get(id)?.status === 'online');
    const title = store.title(conversation);
    const { text, typing } = preview(store, conversation);
    const unread = conversation.unread_count || 0;
    const current = store.currentId === conversation.id;
    const avatar = h('span', { class: 'avatar', 'aria-hidden': 'true' }, initials(title));
    avatar.style.setProperty('--hue', hue(others[0] ?? conversation.id));
    const button = h(
      'button',
      {
        type: 'button',
        class: 'conversation-item',
        'aria-current': current ? 'true' : false,
        onclick: () => this.onOpen(conversation.id),
      },
      h('span', { class: 'avatar-wrap' },
        avatar,
        others.length
          ? h('span', { class: `presence ${online ? 'online' : 'offline'}`, title: online ? 'online' : 'offline' })
          : null),
      h('span', { class: 'item-main' },
        h('span', { class: 'item-title' }, title),
        h('span', { class: 'visually-hidden' }, online ? ', online' : others.length ? ', offline' : ''),
        h('span', { class: `item-preview${typing ? ' is-typing' : ''}` }, h('span', { class: 'visually-hidden' }, ', '), text)),
      h('span', { class: 'item-meta' },
        h('time', { datetime: conversation.last_message?.created_at ?? conversation.created_at },
          shortTime(conversation.last_message?.created_at ?? conversation.created_at)),
        unread
          ? h('span', { class: 'badge', dataset: { unread: String(unread) } }, String(unread),
            h('span', { class: 'visually-hidden' }, ' unread'))
          : null),
    );
    item.classList.toggle('unread', unread > 0);
    item.dataset.online = online ? 'true' : 'false';
    // Keep the focused button if it is this item's: replace only its content.
    const old = item.firstElementChild;
    if (old && document.activeElement === old) {
      old.replaceChildren(...button.childNodes);
      old.setAttribute('aria-current', current ? 'true' : 'false');
    } else {
      item.replaceChildren(button);
    }
  }
}
