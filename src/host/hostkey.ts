// A host key as known_hosts and authorized_keys write it: "<type> <base64 of the blob>".

/** The "<type> <base64>" form of the key blob an SSH server offers. */
export function hostKeyLine(blob: Buffer): string {
  const length = blob.readUInt32BE(0);
  return `${blob.subarray(4, 4 + length).toString('latin1')} ${blob.toString('base64')}`;
}

/** Whether a line is a host key of that form, and nothing else. */
export function isHostKeyLine(line: string): boolean {
  return /^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa) [A-Za-z0-9+/]+={0,2}$/.test(line);
}
