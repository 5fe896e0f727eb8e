import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const root = new URL('..', import.meta.url).pathname;

/** The README's library example, extracted as written: `node --input-type=module -e "…"` and its `# →` line. */
function readmeExample(): { code: string; expected: string } {
  const readme = readFileSync(`${root}README.md`, 'utf8');
  const match = /node --input-type=module -e "\n([\s\S]*?)\n"\n# → (.*)\n/.exec(readme);
  if (!match?.[1] || !match[2]) throw new Error('The README lost its library example');
  return { code: match[1], expected: match[2] };
}

describe('the README', () => {
  it('shows a library example that prints what it says when run under plain node', () => {
    // Prepare: the package entry is dist/, which `npm ci` builds through `prepare`
    if (!existsSync(`${root}dist/lib/index.js`))
      execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'ignore' });
    const { code, expected } = readmeExample();
    // Act
    const output = execFileSync(process.execPath, ['--input-type=module', '-e', code], {
      cwd: root,
      encoding: 'utf8',
    });
    // Assess
    expect(output.trim()).toBe(expected.trim());
  });
});
