// Regenerates the types from the committed OpenAPI document into a temporary
// file and fails when they differ from src/schema.ts (run `npm run generate`).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const doc = process.env.OPENAPI_DOC ?? join(root, "../../openapi/openapi.json");
const dir = mkdtempSync(join(tmpdir(), "latchkey-types-"));
const out = join(dir, "schema.ts");
try {
  execFileSync(join(root, "node_modules/.bin/openapi-typescript"), [doc, "-o", out], { stdio: ["ignore", "ignore", "inherit"] });
  const fresh = readFileSync(out, "utf8");
  const committed = readFileSync(join(root, "src/schema.ts"), "utf8");
  if (fresh !== committed) {
    console.error("src/schema.ts is out of date with openapi/openapi.json: run `npm run generate` in clients/typescript and commit.");
    process.exit(1);
  }
  console.log(`src/schema.ts matches ${doc}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
