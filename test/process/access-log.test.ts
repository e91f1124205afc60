// The access log file: reopened on SIGUSR2 while open, forgotten once closed (an embedded server
// started and closed again and again must not leave a file behind in the reopen list).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AccessLog } from '../../src/process/access-log';
import { reopenLogFiles } from '../../src/process/logger';
import { recordingLogger } from '../helpers/gateway';

/** How many files a SIGUSR2 would reopen now. */
function reopened(): number {
  const { log, lines } = recordingLogger();
  reopenLogFiles(log);
  return lines.find((line) => line.msg === 'log files reopened')!.files as number;
}

test('a closed access log is no longer reopened', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-access-log-'));
  try {
    const before = reopened();
    const accessLog = new AccessLog(path.join(dir, 'access.log'), 0);
    expect(reopened()).toBe(before + 1);
    accessLog.write({ requestId: 1, method: 'GET', uri: '/', status: 200, bytes: 2, ms: 1 });
    await accessLog.close();
    expect(reopened()).toBe(before);
    expect(readFileSync(path.join(dir, 'access.log'), 'utf8')).toContain('"uri":"/"');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
