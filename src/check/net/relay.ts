// The open-relay attempt, from the operator's side: a stranger asks the server on port 25 to pass
// mail from one outside domain to another. Stops after RCPT; no message is ever sent.
import { Conversation, EHLO_NAME, openSocket } from '../../net/smtp.js';

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
  try {
    const greeting = await c.reply();
    if (greeting.code !== 220) return { ...greeting, step };
    step = 'ehlo';
    const ehlo = await c.command(`EHLO ${EHLO_NAME}`);
    if (ehlo.code !== 250) return { ...ehlo, step };
    step = 'mail';
    const mail = await c.command(`MAIL FROM:<${RELAY_FROM}>`);
    if (mail.code !== 250) return { ...mail, step };
    step = 'rcpt';
    const rcpt = await c.command(`RCPT TO:<${RELAY_TO}>`);
    socket.write('RSET\r\nQUIT\r\n');
    return { ...rcpt, step };
  } catch (e) {
    return { code: undefined, text: (e as Error).message, step };
  } finally {
    setTimeout(() => socket.destroy(), 200).unref();
  }
}
