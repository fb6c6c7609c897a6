// mailrig.schema.json, derived from the one schema, so editors complete and check mailrig.yaml.
import { z } from 'zod';
import { configSchema } from './schema.js';

export const SCHEMA_FILE_NAME = 'mailrig.schema.json';

export function jsonSchemaText(): string {
  const schema = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' });
  return `${JSON.stringify({ ...schema, title: 'mailrig.yaml' }, null, 2)}\n`;
}
