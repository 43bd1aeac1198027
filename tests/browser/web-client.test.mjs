// End-to-end test of the web client in headless Chromium (Debian's /usr/bin/chromium, driven
// by playwright-core; no browser is downloaded). It starts a real `parley serve` with its
// embedded NATS and PostgreSQL in a temporary data directory, signs a recruiter and an
// applicant in through the page, and has them chat: typing, presence, unread badges, read
// receipts, replies, reactions, edits, deletion, an attachment, ATS updates. Then it kills
// the server (SIGKILL), sends while it is down, starts it again on the same port and data
// directory, and checks that every message shows exactly once on both screens.
//
// Screenshots go to target/browser-artifacts/. Run by scripts/test; alone:
//   (cd tests/browser && npm ci && node --test)   # after cargo build

import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const parleyBin = process.env.PARLEY_BIN ?? path.join(root, 'target/debug/parley');
const chromiumPath = process.env.PARLEY_CHROMIUM ?? '/usr/bin/chromium';
const artifacts = path.join(root, 'target/browser-artifacts');
const natsServer = path.join(root, '.parley/venv/bin/nats-server');
/** How long one expectation waits for the page. */
const WAIT = 20_000;

// ---- the server -----------------------------------------------------------------------------

async function freePort() {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  server.close();
  await once(server, 'close');
  return port;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Processes whose command line names `dir` (the embedded nats-server and PostgreSQL). */
function processesUsing(dir) {
  const found = [];
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir)) found.push(Number(pid));
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}

class Server {
  constructor(dataDir, port) {
    this.dataDir = dataDir;
    this.port = port;
    this.base = `http://127.0.0.1:${port}`;
    this.starts = 0;
  }

  async start() {
    this.starts += 1;
    const log = fs.openSync(path.join(artifacts, `parley-serve-${this.starts}.log`), 'w');
    const env = { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'info' };
    if (fs.existsSync(natsServer)) env.PARLEY_NATS_SERVER = natsServer;
    for (const name of ['NATS_URL', 'DATABASE_URL', 'PARLEY_JWT_SECRET', 'PARLEY_ENV', 'PARLEY_LISTEN']) delete env[name];
    this.child = spawn(parleyBin, ['serve', '--listen', `127.0.0.1:${this.port}`, '--data-dir', this.dataDir], {
      env,
      stdio: ['ignore', log, log],
    });
    this.exited = once(this.child, 'exit');
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null) throw new Error(`parley serve exited; see ${artifacts}/parley-serve-${this.starts}.log`);
      try {
        const response = await fetch(`${this.base}/readyz`);
        if (response.ok) return;
      } catch {
        // Not listening yet.
      }
      await sleep(200);
    }
    throw new Error('parley serve did not become ready within 120 s');
  }

  /** Kills the server without warning; its embedded servers die with it. */
  async kill() {
    this.child.kill('SIGKILL');
    await this.exited;
    const deadline = Date.now() + 30_000;
    while (processesUsing(this.dataDir).length && Date.now() < deadline) await sleep(100);
    assert.deepEqual(processesUsing(this.dataDir), [], 'the embedded servers outlived parley serve');
  }

  async stop() {
    if (this.child && this.child.exitCode === null) {
      this.child.kill('SIGTERM');
      await Promise.race([this.exited, sleep(15_000)]);
      if (this.child.exitCode === null) this.child.kill('SIGKILL');
    }
  }

  async devToken(userId, role, name) {
    const response = await fetch(`${this.base}/api/dev/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ user_id: userId, role, name }),
    });
    assert.equal(response.status, 200, await response.clone().text());
    return (await response.json()).token;
  }

  async call(method, pathname, token, body) {
    const response = await fetch(`${this.base}${pathname}`, {
      method,
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null };
  }
}

// ---- the pages ------------------------------------------------------------------------------

/** Waits until `predicate(arg)` holds in the page, failing with `what` and the page's state. */
async function until(page, what, predicate, arg) {
  try {
    await page.waitForFunction(predicate, arg, { timeout: WAIT, polling: 100 });
  } catch (error) {
    const shot = path.join(artifacts, `failed-${what.replace(/\W+/g, '-').slice(0, 60)}.png`);
    await page.screenshot({ path: shot }).catch(() => {});
    const errors = problems.length ? `\npage errors so far:\n${problems.join('\n')}` : '';
    throw new Error(`${what}: not seen within ${WAIT} ms (screenshot ${shot})\n${error.message}${errors}`);
  }
}

const textOf = (page, selector) => page.locator(selector).textContent();

/** Messages on screen with exactly this content. */
async function countMessages(page, content) {
  return page.evaluate((text) => [...document.querySelectorAll('#message-list > li .content')]
    .filter((node) => node.textContent === text).length, content);
}

function messageItem(page, content) {
  return page.locator('#message-list > li').filter({ has: page.locator('.content', { hasText: content }) });
}

function conversationItem(page, title) {
  return page.locator('#conversations > li').filter({ hasText: title });
}

async function signIn(page, base, { name, id, role }) {
  await page.goto(base);
  await page.getByLabel('Your name', { exact: true }).fill(name);
  await page.getByLabel('User id', { exact: true }).fill(id);
  await page.getByLabel(role === 'recruiter' ? 'Recruiter' : 'Applicant', { exact: true }).check();
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await until(page, `${id} is signed in and live`, () => document.getElementById('connection-text')?.textContent === 'Live');
}

/** Types the way a person does (so typing signals go out), then sends with Enter. */
async function say(page, text) {
  const box = page.getByLabel('Message', { exact: true });
  await box.click();
  await box.pressSequentially(text, { delay: 15 });
  await box.press('Enter');
}

// ---- the test -------------------------------------------------------------------------------

let server;
let browser;
const problems = [];
let failed = false;

/** One step of the story; once a step fails, the later ones are skipped (they build on it). */
async function step(t, name, body) {
  await t.test(name, { skip: failed && 'an earlier step failed' }, async () => {
    try {
      await body();
    } catch (error) {
      failed = true;
      throw error;
    }
  });
}

before(async () => {
  fs.mkdirSync(artifacts, { recursive: true });
  assert.ok(fs.existsSync(parleyBin), `${parleyBin} is missing: run cargo build first`);
  assert.ok(fs.existsSync(chromiumPath), `${chromiumPath} is missing: run scripts/setup --test`);
  // Short: the embedded PostgreSQL's socket lives in the data directory.
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-web-'));
  server = new Server(dataDir, await freePort());
  await server.start();
  browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    // Root in a container: Chromium's sandbox needs user namespaces it may not have.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-quic',
      // Pages fulfilled from disk (PARLEY_WEB_FROM_DISK) lose their local address space.
      ...(process.env.PARLEY_WEB_FROM_DISK ? ['--disable-features=LocalNetworkAccessChecks'] : [])],
  });
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (server) fs.rmSync(server.dataDir, { recursive: true, force: true });
});

async function newPage(name, viewport = { width: 1180, height: 760 }) {
  const context = await browser.newContext({ viewport, acceptDownloads: true });
  if (process.env.PARLEY_WEB_FROM_DISK) {
    // While working on web/: the files from disk (with the server's headers), no rebuild.
    await context.route((url) => url.pathname === '/' || url.pathname.startsWith('/web/'), async (route) => {
      const response = await route.fetch();
      const { pathname } = new URL(route.request().url());
      const file = path.join(root, 'web', pathname === '/' ? 'index.html' : pathname.slice('/web/'.length));
      await route.fulfill({ response, body: fs.readFileSync(file) });
    });
  }
  const page = await context.newPage();
  page.on('pageerror', (error) => problems.push(`${name}: ${error.message}`));
  page.on('console', (message) => {
    // A Content-Security-Policy violation is a console error; so is any uncaught fault.
    // Failed requests while the server is down are expected and not counted.
    if (message.type() === 'error' && !/Failed to load resource|ERR_CONNECTION_REFUSED|WebSocket connection/.test(message.text())) {
      problems.push(`${name}: ${message.text()}`);
    }
  });
  return page;
}

test('two people chat in the web client, and a server restart loses and doubles nothing', { timeout: 300_000 }, async (t) => {
  const rita = await newPage('rita');
  const andy = await newPage('andy');
  const andySockets = [];
  andy.on('websocket', (socket) => andySockets.push(socket.url()));

  await step(t, 'the page is served with a strict Content-Security-Policy', async () => {
    const response = await fetch(`${server.base}/`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type'), /^text\/html/);
    assert.match(response.headers.get('content-security-policy'), /script-src 'self'/);
    const script = await fetch(`${server.base}/web/js/app.js`);
    assert.match(script.headers.get('content-type'), /^text\/javascript/);
  });

  await step(t, 'both sign in with the development sign-in', async () => {
    await signIn(rita, server.base, { name: 'Rita Recruiter', id: 'rita', role: 'recruiter' });
    await signIn(andy, server.base, { name: 'Andy Applicant', id: 'andy', role: 'applicant' });
    assert.equal(await textOf(rita, '#me-role'), 'recruiter');
    assert.equal(await textOf(andy, '#me-role'), 'applicant');
  });

  await step(t, 'a token from the identity provider signs in too, and signing out forgets it', async () => {
    const token = execFileSync(parleyBin, ['token', '--sub', 'casey', '--role', 'applicant', '--name', 'Casey',
      '--data-dir', server.dataDir], { encoding: 'utf8' }).trim();
    const casey = await newPage('casey');
    await casey.goto(server.base);
    await casey.getByText('Sign in with a token instead', { exact: true }).click();
    await casey.getByLabel('Bearer token', { exact: true }).fill(token);
    await casey.getByRole('button', { name: 'Sign in with token', exact: true }).click();
    await until(casey, 'casey is live', () => document.getElementById('connection-text')?.textContent === 'Live');
    assert.equal(await textOf(casey, '#me-name'), 'Casey (casey)');
    await casey.getByRole('button', { name: 'Sign out', exact: true }).click();
    await casey.getByLabel('Your name', { exact: true }).waitFor({ timeout: WAIT });
    assert.equal(await casey.evaluate(() => sessionStorage.getItem('parley.token')), null);
    await casey.context().close();
  });

  await step(t, 'the recruiter starts a conversation; it appears live for the applicant, with presence', async () => {
    await rita.getByText('Start a conversation', { exact: true }).click();
    await rita.getByLabel('Their user id', { exact: true }).fill('andy');
    await rita.getByLabel('Title (optional)', { exact: true }).fill('Backend engineer');
    await rita.getByRole('button', { name: 'Start', exact: true }).click();
    await until(rita, 'the new conversation is open', () => document.getElementById('conversation-title').textContent === 'Backend engineer');
    await conversationItem(andy, 'Backend engineer').waitFor({ timeout: WAIT });
    await until(andy, 'the recruiter shows online in the applicant\'s list',
      () => document.querySelector('#conversations > li')?.dataset.online === 'true');
  });

  await step(t, 'typing shows in the list, a message raises the unread badge', async () => {
    const box = rita.getByLabel('Message', { exact: true });
    await box.click();
    await box.pressSequentially('Hello Andy', { delay: 20 });
    await until(andy, 'the applicant sees the recruiter typing in the list',
      () => document.querySelector('#conversations .item-preview')?.textContent.includes('is typing'));
    await box.press('Enter');
    await until(andy, 'the unread badge shows 1', () => document.querySelector('#conversations .badge')?.dataset.unread === '1');
    assert.match(await conversationItem(andy, 'Backend engineer').innerText(), /Rita Recruiter: Hello Andy/);
    assert.equal(await textOf(andy, '#total-unread'), '1');
  });

  await step(t, 'opening the conversation reads it: the badge goes, the sender sees "Seen"', async () => {
    await conversationItem(andy, 'Backend engineer').getByRole('button').click();
    await messageItem(andy, 'Hello Andy').waitFor({ timeout: WAIT });
    await until(andy, 'the badge is gone', () => !document.querySelector('#conversations .badge'));
    await until(rita, 'the recruiter sees Seen', () => document.querySelector('#message-list .receipt.seen')?.textContent.includes('Seen'));
    assert.match(await textOf(rita, '#conversation-sub'), /Andy Applicant \(andy\) · online/);
  });

  await step(t, 'the applicant answers; the recruiter sees the typing indicator, then the message', async () => {
    const box = andy.getByLabel('Message', { exact: true });
    await box.click();
    await box.pressSequentially('Hi Rita, thanks for reaching out', { delay: 20 });
    await until(rita, 'the recruiter sees "is typing"', () => document.getElementById('typing').textContent === 'Andy Applicant is typing…');
    await box.press('Enter');
    await messageItem(rita, 'Hi Rita, thanks for reaching out').waitFor({ timeout: WAIT });
    await until(rita, 'the typing indicator clears', () => document.getElementById('typing').textContent === '');
  });

  await step(t, 'replies, reactions, edits and deletions reach the other side', async () => {
    const theirs = messageItem(rita, 'Hi Rita, thanks');
    await theirs.hover();
    await theirs.getByRole('button', { name: 'Reply' }).click();
    await say(rita, 'Great! When can you talk?');
    const reply = messageItem(andy, 'Great! When can you talk?');
    await reply.waitFor({ timeout: WAIT });
    assert.match(await reply.locator('.quote').innerText(), /Hi Rita, thanks/);

    await reply.hover();
    await reply.getByRole('button', { name: 'React', exact: true }).click();
    await reply.getByRole('button', { name: 'React 👍' }).click();
    await until(rita, 'the recruiter sees the reaction', () => [...document.querySelectorAll('#message-list .reaction')]
      .some((b) => b.textContent === '👍 1'));

    const first = messageItem(rita, 'Hello Andy');
    await first.hover();
    await first.getByRole('button', { name: 'Edit' }).click();
    const editor = rita.getByLabel('Edit message', { exact: true });
    await editor.fill('Hello Andy, welcome to Parley!');
    await editor.press('Enter');
    await until(andy, 'the applicant sees the edit', () => [...document.querySelectorAll('#message-list .message')]
      .some((m) => m.querySelector('.content')?.textContent === 'Hello Andy, welcome to Parley!' && m.querySelector('.edited')));

    await say(rita, 'oops, wrong conversation');
    const oops = messageItem(rita, 'oops, wrong conversation');
    await oops.waitFor({ timeout: WAIT });
    await until(rita, 'the sent message is stored', () => !document.querySelector('#message-list [data-pending]'));
    await messageItem(andy, 'oops, wrong conversation').waitFor({ timeout: WAIT });
    await oops.hover();
    await oops.getByRole('button', { name: 'Delete' }).click();
    await oops.getByRole('button', { name: 'Confirm: delete this message' }).click();
    await until(andy, 'the applicant sees the deletion', () => {
      const texts = [...document.querySelectorAll('#message-list .content')].map((n) => n.textContent);
      return !texts.includes('oops, wrong conversation') && texts.includes('Message deleted');
    });
  });

  await step(t, 'an attachment goes up and comes down intact', async () => {
    const bytes = Buffer.from('Andy Applicant\nCurriculum vitae\n- Rust, 5 years\n');
    await andy.locator('#file-input').setInputFiles({ name: 'cv.txt', mimeType: 'text/plain', buffer: bytes });
    await until(andy, 'the upload finished', () => /cv\.txt · \d/.test(document.getElementById('pending-files').textContent));
    await say(andy, 'Here is my CV');
    const message = messageItem(rita, 'Here is my CV');
    await message.waitFor({ timeout: WAIT });
    const [download] = await Promise.all([
      rita.waitForEvent('download'),
      message.getByRole('button', { name: /cv\.txt/ }).click(),
    ]);
    assert.equal(download.suggestedFilename(), 'cv.txt');
    const saved = path.join(artifacts, 'downloaded-cv.txt');
    await download.saveAs(saved);
    assert.deepEqual(fs.readFileSync(saved), bytes);
  });

  await step(t, 'ATS updates arrive as system messages, drawn apart from chat', async () => {
    const service = execFileSync(parleyBin, ['token', '--sub', 'ats', '--role', 'service', '--data-dir', server.dataDir],
      { encoding: 'utf8' }).trim();
    const event = (type, status, id) => ({
      type, event_id: id, application_id: 'app-1001', job_id: 'job-7', job_title: 'Senior Rust engineer',
      candidate_id: 'andy', recruiter_id: 'rita', status, occurred_at: new Date().toISOString(),
    });
    for (const [type, status, id] of [['submitted', 'submitted', 'ats-1'], ['status_changed', 'interview', 'ats-2']]) {
      const answer = await server.call('POST', '/api/system/application-events', service, event(type, status, id));
      assert.equal(answer.status, 202, JSON.stringify(answer.body));
    }
    await until(rita, 'an application update reaches the list',
      () => [...document.querySelectorAll('#conversations .item-preview')].some((p) => p.textContent.includes('Update:')));
    const item = conversationItem(rita, 'Senior Rust engineer');
    await item.getByRole('button').click();
    await until(rita, 'both system messages show', () => document.querySelectorAll('#message-list .message.system .system-card').length === 2);
    assert.match(await rita.locator('#message-list .system-card').last().innerText(), /status: interview/);
    await rita.screenshot({ path: path.join(artifacts, 'recruiter-ats-update.png') });
    await conversationItem(rita, 'Backend engineer').getByRole('button').click();
    await messageItem(rita, 'Here is my CV').waitFor({ timeout: WAIT });
  });

  await step(t, 'a long history loads backwards as the applicant scrolls up', async () => {
    const token = await server.devToken('rita', 'recruiter', 'Rita Recruiter');
    const created = await server.call('POST', '/api/conversations', token,
      { title: 'Long history', participant_ids: ['andy'], kind: 'group' });
    assert.ok([201, 202].includes(created.status), JSON.stringify(created.body));
    for (let i = 1; i <= 75; i += 1) {
      const sent = await server.call('POST', '/api/messages', token,
        { conversation_id: created.body.id, content: `History message ${i}`, client_msg_id: `history-${i}` });
      assert.ok([201, 202].includes(sent.status), JSON.stringify(sent.body));
    }
    await conversationItem(andy, 'Long history').getByRole('button').click();
    await messageItem(andy, 'History message 75').waitFor({ timeout: WAIT });
    const shown = () => andy.evaluate(() => document.querySelectorAll('#message-list > li[data-id]').length);
    assert.equal(await shown(), 30, 'the newest page first');
    // Scrolling to the top loads the older pages, one at a time, until the beginning.
    for (let i = 0; i < 10 && !(await andy.locator('#history-start').isVisible()); i += 1) {
      await andy.locator('#messages').evaluate((node) => { node.scrollTop = 0; });
      await sleep(300);
    }
    await until(andy, 'every message is loaded', () => document.querySelectorAll('#message-list > li[data-id]').length === 75);
    assert.ok(await andy.locator('#history-start').isVisible());
    const order = await andy.evaluate(() => [...document.querySelectorAll('#message-list .content')].map((n) => n.textContent));
    assert.deepEqual(order, Array.from({ length: 75 }, (_, i) => `History message ${i + 1}`), 'in order, each once');
    await conversationItem(andy, 'Backend engineer').getByRole('button').click();
    await messageItem(andy, 'Here is my CV').waitFor({ timeout: WAIT });
  });

  await step(t, 'screenshots of both views', async () => {
    for (const page of [rita, andy]) {
      await page.evaluate(() => document.activeElement?.blur());
      await page.mouse.move(5, 5);
    }
    await rita.screenshot({ path: path.join(artifacts, 'recruiter.png') });
    await andy.screenshot({ path: path.join(artifacts, 'applicant.png') });
  });

  await step(t, 'a server restart: reconnecting is shown, nothing is lost or doubled', async () => {
    const before = await andy.evaluate(() => document.querySelectorAll('#message-list > li[data-id]').length);
    const socketsBefore = andySockets.length;
    await server.kill();
    await until(rita, 'the recruiter shows Reconnecting', () => document.getElementById('connection-text').textContent === 'Reconnecting…');
    await until(andy, 'the applicant shows Reconnecting', () => document.getElementById('connection-text').textContent === 'Reconnecting…');
    await rita.screenshot({ path: path.join(artifacts, 'recruiter-reconnecting.png') });
    // Sent while the server is down: shown at once, retried with the same client_msg_id.
    await say(rita, 'Sent while the server was down');
    await until(rita, 'the message waits to be sent', () => !!document.querySelector('#message-list [data-pending]'));

    await server.start();
    // Written the moment the server is back, most likely before the pages reconnect: the
    // applicant gets it from the resume (`since`), not from live delivery.
    const token = await server.devToken('rita', 'recruiter', 'Rita Recruiter');
    const conversationId = await andy.evaluate(() => window.location.hash.slice(3));
    const sent = await server.call('POST', '/api/messages', token, {
      conversation_id: conversationId, content: 'Sent through the API right after the restart', client_msg_id: 'api-after-restart',
    });
    assert.ok([200, 201, 202].includes(sent.status), JSON.stringify(sent.body));

    for (const page of [rita, andy]) {
      await until(page, 'live again', () => document.getElementById('connection-text').textContent === 'Live');
    }
    for (const content of ['Sent while the server was down', 'Sent through the API right after the restart']) {
      await messageItem(andy, content).waitFor({ timeout: WAIT });
      await messageItem(rita, content).waitFor({ timeout: WAIT });
    }
    await until(rita, 'the pending message is confirmed', () => !document.querySelector('#message-list [data-pending]'));
    await say(andy, 'Still here after the restart');
    await messageItem(rita, 'Still here after the restart').waitFor({ timeout: WAIT });
    await sleep(500);

    for (const page of [rita, andy]) {
      for (const content of ['Sent while the server was down', 'Sent through the API right after the restart',
        'Still here after the restart', 'Here is my CV', 'Hi Rita, thanks for reaching out']) {
        assert.equal(await countMessages(page, content), 1, `"${content}" shows once`);
      }
      const ids = await page.evaluate(() => [...document.querySelectorAll('#message-list > li[data-id]')].map((n) => n.dataset.id));
      assert.equal(new Set(ids).size, ids.length, 'no message id shows twice');
    }
    const after = await andy.evaluate(() => document.querySelectorAll('#message-list > li[data-id]').length);
    assert.equal(after, before + 3);
    const reconnections = andySockets.slice(socketsBefore);
    assert.ok(reconnections.length > 0 && reconnections.every((url) => /[?&]since=[1-9]\d*/.test(url)),
      `every reconnection resumes with since: ${reconnections.join(' ')}`);
    assert.ok(andySockets.every((url) => !/access_token/.test(url)), 'the page connects with tickets, not tokens in the URL');
  });

  await step(t, 'on a phone-sized screen one pane shows at a time', async () => {
    await andy.setViewportSize({ width: 390, height: 780 });
    assert.ok(await andy.locator('#conversation').isVisible());
    assert.ok(!(await andy.locator('.sidebar').isVisible()));
    await andy.screenshot({ path: path.join(artifacts, 'applicant-phone-conversation.png') });
    await andy.getByRole('button', { name: 'Back to conversations' }).click();
    // The panes switch after the click's handler runs: wait for it (isVisible does not wait).
    await andy.locator('.sidebar').waitFor({ state: 'visible', timeout: 5000 });
    await andy.locator('#conversation').waitFor({ state: 'hidden', timeout: 5000 });
    await andy.screenshot({ path: path.join(artifacts, 'applicant-phone-list.png') });
    // Keyboard: Tab reaches a conversation, Enter opens it.
    await andy.locator('#conversations button').first().focus();
    await andy.keyboard.press('Enter');
    await until(andy, 'the conversation opens from the keyboard', () => document.body.classList.contains('in-conversation'));
  });

  await step(t, 'when the applicant leaves, the recruiter sees them go offline', async () => {
    await andy.context().close();
    await until(rita, 'the applicant shows offline', () => /Andy Applicant \(andy\) · (offline|last seen)/
      .test(document.getElementById('conversation-sub').textContent));
  });

  assert.deepEqual(problems, [], 'no script errors and no Content-Security-Policy violations');
});
