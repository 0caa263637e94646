import { readFileSync } from 'node:fs';
import { type Command } from 'commander';
import { ChainError } from '../../src/errors';
import { describeStatement, readVexText } from '../../src/scan';

/** `dchain vex check <file>`: validates an OpenVEX or CycloneDX VEX document and lists its statements. */
export function register(program: Command): void {
  const vex = program.command('vex').description('VEX documents (OpenVEX, CycloneDX VEX) the gate applies');
  vex
    .command('check <file>')
    .description('validate a VEX document: every problem named by its field; lists the statements it makes')
    .option('--json', 'machine-readable output')
    .action((file: string, opts: { json?: boolean }) => {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (cause) {
        throw new ChainError('BAD_INPUT', `cannot read VEX document ${file}: ${(cause as Error).message}`, { cause });
      }
      const read = readVexText(text, file);
      if (opts.json)
        process.stdout.write(
          `${JSON.stringify(read.ok ? { valid: true, format: read.format, statements: read.statements } : { valid: false, ...(read.format ? { format: read.format } : {}), problems: read.problems }, null, 2)}\n`,
        );
      if (!read.ok) {
        throw new ChainError(
          'BAD_INPUT',
          `${file}: invalid ${read.format === 'cyclonedx' ? 'CycloneDX VEX' : read.format === 'openvex' ? 'OpenVEX' : 'VEX'} document:\n${read.problems.map((p) => `  - ${p}`).join('\n')}`,
        );
      }
      if (opts.json) return;
      process.stdout.write(
        `${file}: valid ${read.format === 'openvex' ? 'OpenVEX' : 'CycloneDX VEX'} document, ${read.statements.length} statement${read.statements.length === 1 ? '' : 's'}\n`,
      );
      for (const s of read.statements) {
        const products = s.products.map((p) => `${p.ids[0]}${p.subcomponents.length ? ` [${p.subcomponents.join(', ')}]` : ''}`).join(', ') || 'any product';
        process.stdout.write(`  ${s.vulnerability}${s.aliases.length ? ` (${s.aliases.join(', ')})` : ''}: ${describeStatement(s)} — ${products}\n`);
      }
    });
}
