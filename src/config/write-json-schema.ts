// Build step: writes mailrig.schema.json at the package root (npm run build).
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { jsonSchemaText, SCHEMA_FILE_NAME } from './json-schema.js';

const target = fileURLToPath(new URL(`../../../${SCHEMA_FILE_NAME}`, import.meta.url));
writeFileSync(target, jsonSchemaText());
