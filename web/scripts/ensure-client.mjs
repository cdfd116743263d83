// `npm ci` here links ../clients/typescript; make sure it is installed and built.
import { execSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const client = fileURLToPath(new URL("../../clients/typescript", import.meta.url));
if (!existsSync(`${client}/node_modules`)) execSync("npm ci", { cwd: client, stdio: "inherit" });
if (!existsSync(`${client}/dist/index.js`)) execSync("npm run build", { cwd: client, stdio: "inherit" });
