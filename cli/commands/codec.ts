import { type Command } from 'commander';
import { ChainError } from '../../src/errors';
import { createLogger } from '../../src/log';
import { createCodecServer, PayloadEncryption } from '../../src/security';
import { cliConfig, positiveInt } from '../context';

/**
 * `dchain codec-server`: decrypts the chain's Temporal payloads for the Web UI (its `codec.endpoint`)
 * and the `temporal` CLI (`--codec-endpoint`), with the keys of `temporal.codec`.
 */
export function register(program: Command): void {
  program
    .command('codec-server')
    .description("serve Temporal's codec protocol (POST /encode, /decode) with the temporal.codec keys, for the Web UI and the temporal CLI")
    .option('--host <host>', 'address to listen on (whoever reaches it reads every payload: keep it private)', '127.0.0.1')
    .option('--port <port>', 'port', '8888')
    .option('--allow-origin <origin...>', "browser origins allowed to call it (the Web UI's)", ['http://127.0.0.1:8233', 'http://localhost:8233'])
    .action(async (opts: { host: string; port: string; allowOrigin: string[] }) => {
      const config = cliConfig(program.opts());
      if (!config.temporal.codec) throw new ChainError('CONFIG_INVALID', 'temporal.codec is not configured: there is nothing to decrypt');
      const logger = createLogger({ level: config.log.level });
      const server = createCodecServer(PayloadEncryption.fromConfig(config.temporal.codec), { allowOrigins: opts.allowOrigin });
      const port = positiveInt(opts.port, '--port');
      await new Promise<void>((resolve) => server.listen(port, opts.host, resolve));
      logger.info({ url: `http://${opts.host}:${port}`, keys: config.temporal.codec.keys.map((k) => k.id) }, 'codec server listening');
      for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => server.close(() => process.exit(0)));
    });
}
