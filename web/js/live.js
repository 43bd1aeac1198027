// The live session: a WebSocket opened with a single-use ticket, that reconnects by itself
// with `since=<last seq>` after any drop, so the server replays what was missed. Durable
// frames are handed on once each (a seq already handled is dropped: no doubles even if a
// replay overlaps what arrived before the drop). Signals (typing, presence, unread) are not
// replayed; `onOpen` tells the page to refresh what they describe.

/** Waits between reconnection attempts, in ms (then the last one, with jitter). */
const BACKOFF = [250, 500, 1000, 2000, 4000, 8000];
/** Application-level ping: a server that stops answering is noticed within PING + PONG_WAIT. */
const PING_EVERY = 25_000;
const PONG_WAIT = 10_000;
/** How many handled seqs are remembered for de-duplication. */
const SEEN_LIMIT = 5000;

export class Live {
  /**
   * `api`: for tickets. `handlers`: `onFrame(frame)`, `onStatus('connecting'|'online'|'reconnecting'|'offline')`,
   * `onOpen({resumed})`, `onUnauthorized()`, `onResumeRefused()`.
   */
  constructor(api, handlers) {
    this.api = api;
    this.handlers = handlers;
    this.lastSeq = null;
    this.seen = new Set();
    this.socket = null;
    this.stopped = true;
    this.attempt = 0;
    this.refusedOpens = 0;
    this.everOpened = false;
    this.retryTimer = null;
    this.pingTimer = null;
    this.pongTimer = null;
    this.onBrowserOnline = () => this.reconnectNow();
  }

  /** Starts following events after `since` (a seq the page's reads already include). */
  start(since) {
    this.lastSeq = since ?? null;
    this.stopped = false;
    window.addEventListener('online', this.onBrowserOnline);
    this.connect();
  }

  stop() {
    this.stopped = true;
    window.removeEventListener('online', this.onBrowserOnline);
    clearTimeout(this.retryTimer);
    this.stopHeartbeat();
    if (this.socket) this.socket.close(1000, 'signed out');
    this.socket = null;
  }

  /** Sends a client frame; false when there is no open session (the caller uses REST). */
  send(frame) {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify(frame));
    return true;
  }

  get open() {
    return !!this.socket && this.socket.readyState === WebSocket.OPEN;
  }

  status(state) {
    this.handlers.onStatus?.(state);
  }

  async connect() {
    if (this.stopped || this.connecting || this.open) return;
    this.status(this.everOpened ? 'reconnecting' : 'connecting');
    let ticket;
    this.connecting = true;
    try {
      ticket = (await this.api.post('/api/ws/ticket')).body.ticket;
    } catch (error) {
      if (error.status === 401) {
        this.stop();
        this.handlers.onUnauthorized?.();
        return;
      }
      this.scheduleRetry();
      return;
    } finally {
      this.connecting = false;
    }
    if (this.stopped) return;
    const url = new URL('/api/ws', window.location.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    url.searchParams.set('ticket', ticket);
    if (this.lastSeq !== null) url.searchParams.set('since', String(this.lastSeq));
    const socket = new WebSocket(url);
    this.socket = socket;
    let opened = false;
    socket.onmessage = (event) => {
      if (socket !== this.socket) return;
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      this.alive();
      if (frame.type === 'connection_established') {
        opened = true;
        const resumed = this.everOpened;
        this.everOpened = true;
        this.attempt = 0;
        this.refusedOpens = 0;
        this.status('online');
        this.startHeartbeat();
        this.handlers.onOpen?.({ resumed, frame });
        return;
      }
      if (typeof frame.seq === 'number') {
        if (this.seen.has(frame.seq)) return;
        this.remember(frame.seq);
      }
      this.handlers.onFrame(frame);
    };
    socket.onclose = (event) => {
      if (socket !== this.socket) return;
      this.socket = null;
      this.stopHeartbeat();
      if (this.stopped) return;
      // Resuming refused three times although each ticket was fresh: most likely `since`
      // lies beyond the end of a log that was reset. The page reloads and starts afresh.
      if (!opened && ++this.refusedOpens >= 3 && this.everOpened) {
        this.refusedOpens = 0;
        this.handlers.onResumeRefused?.();
        return;
      }
      // An expired token (1008) needs no case of its own: the next ticket request answers
      // 401, which signs the page out.
      this.scheduleRetry();
    };
  }

  remember(seq) {
    this.seen.add(seq);
    if (this.lastSeq === null || seq > this.lastSeq) this.lastSeq = seq;
    if (this.seen.size > SEEN_LIMIT) {
      // Sets iterate in insertion order: forget the oldest.
      const drop = this.seen.size - SEEN_LIMIT;
      let i = 0;
      for (const old of this.seen) {
        if (i++ >= drop) break;
        this.seen.delete(old);
      }
    }
  }

  scheduleRetry() {
    if (this.stopped) return;
    this.status(this.everOpened ? 'reconnecting' : 'connecting');
    const base = BACKOFF[Math.min(this.attempt, BACKOFF.length - 1)];
    this.attempt += 1;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), base + Math.random() * base * 0.3);
  }

  reconnectNow() {
    if (this.stopped || this.open) return;
    this.attempt = 0;
    clearTimeout(this.retryTimer);
    this.connect();
  }

  /** Drops the socket as if the network had failed (used when a ping goes unanswered). */
  drop() {
    if (this.socket) {
      const socket = this.socket;
      socket.onclose?.({ code: 4000, reason: 'no answer' });
      socket.close();
    }
  }

  startHeartbeat() {
    this.stopHeartbeat();
    this.pingTimer = setInterval(() => {
      if (!this.send({ type: 'ping' })) return;
      clearTimeout(this.pongTimer);
      this.pongTimer = setTimeout(() => this.drop(), PONG_WAIT);
    }, PING_EVERY);
  }

  alive() {
    clearTimeout(this.pongTimer);
  }

  stopHeartbeat() {
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
  }
}
