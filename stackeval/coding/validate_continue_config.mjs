// Validate Continue config.yaml files with Continue's own schema package (@continuedev/config-yaml).
// Usage: node validate_continue_config.mjs FILE...   Prints one JSON line per file; exit 1 if any
// file is invalid. Zod drops keys it does not know, so a key that vanishes in parsing is an error
// too (a misspelt option would otherwise be silently ignored by Continue).
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

// Resolve the package from the working directory (the project root, where npm ci installed it).
const require = createRequire(pathToFileURL(process.cwd() + "/").href);
const schemaPkg = require.resolve("@continuedev/config-yaml");
const { parseConfigYaml, validateConfigYaml } = await import(pathToFileURL(schemaPkg).href);
// The same YAML parser the schema package uses, resolved from where that package sits.
const YAML = await import(pathToFileURL(createRequire(schemaPkg).resolve("yaml")).href);

function dropped(input, parsed, path, out) {
  if (input === null || typeof input !== "object") return out;
  for (const [key, value] of Object.entries(input)) {
    const where = Array.isArray(input) ? `${path}[${key}]` : `${path}.${key}`;
    if (parsed === null || typeof parsed !== "object" || !(key in parsed)) out.push(where);
    else dropped(value, parsed[key], where, out);
  }
  return out;
}

let failed = false;
for (const file of process.argv.slice(2)) {
  const errors = [];
  const warnings = [];
  try {
    const text = readFileSync(file, "utf8");
    const parsed = parseConfigYaml(text);
    for (const key of dropped(YAML.parse(text), parsed, "", [])) {
      errors.push(`unknown key ${key.slice(1)} (dropped by Continue's schema)`);
    }
    for (const e of validateConfigYaml(parsed)) (e.fatal ? errors : warnings).push(e.message);
  } catch (e) {
    errors.push(String(e.message).split("\n").slice(0, 8).join(" "));
  }
  failed ||= errors.length > 0;
  console.log(JSON.stringify({ file, valid: errors.length === 0, errors, warnings }));
}
process.exit(failed ? 1 : 0);
