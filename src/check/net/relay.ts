// The open-relay attempt, from the operator's side: a stranger asks the server on port 25 to pass
// mail from one outside domain to another. Stops after RCPT; no message is ever sent.
import { Conversation, EHLO_NAME, openSocket, replyText, type Reply } from '../../net/smtp.js';

export interface RelayAttempt {
  /** The reply to RCPT TO (or to the step that ended the attempt). */
  code: number | undefined;
  text: string;
  /** Which step the reply answers: 'rcpt' when the relay question was asked at all. */
  step: 'connect' | 'greeting' | 'ehlo' | 'mail' | 'rcpt';
}

/** RFC 2606 names: nobody receives mail there, so even an open relay delivers nothing. */
export const RELAY_FROM = 'mailrig-relay-test@example.net';
export const RELAY_TO = 'mailrig-relay-test@example.org';

export async function tryRelay(host: string, port = 25, timeoutMs = 15_000): Promise<RelayAttempt> {
  let socket;
  try {
    socket = await openSocket(host, port, timeoutMs);
  } catch (e) {
    return { code: undefined, text: (e as Error).message, step: 'connect' };
  }
  const c = new Conversation(socket, timeoutMs);
  let step: RelayAttempt['step'] = 'greeting';
  const attempt = (r: Reply): RelayAttempt =>
    r.code === 0 ? { code: undefined, text: c.endReason ?? 'the server closed the connection', step } : { code: r.code, text: replyText(r), step };
  try {
    const greeting = await c.reply();
    if (greeting.code !== 220) return attempt(greeting);
    step = 'ehlo';
    const ehlo = await c.command(`EHLO ${EHLO_NAME}`);
    if (ehlo.code !== 250) return attempt(ehlo);
    step = 'mail';
    const mail = await c.command(`MAIL FROM:<${RELAY_FROM}>`);
    if (mail.code !== 250) return attempt(mail);
    step = 'rcpt';
    const rcpt = await c.command(`RCPT TO:<${RELAY_TO}>`);
    c.send('RSET\r\nQUIT\r\n');
    return attempt(rcpt);
  } catch (e) {
    return { code: undefined, text: (e as Error).message, step };
  } finally {
    setTimeout(() => socket.destroy(), 200).unref();
  }
}
