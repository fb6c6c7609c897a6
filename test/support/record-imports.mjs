// Loaded with `node --import`: appends every module URL the process resolves to $MAILRIG_IMPORT_LOG,
// so a test can prove which dependencies a command loads.
import { register } from 'node:module';

register(
  'data:text/javascript,' +
    encodeURIComponent(`
      import { appendFileSync } from 'node:fs';
      export async function resolve(specifier, context, next) {
        const result = await next(specifier, context);
        if (process.env.MAILRIG_IMPORT_LOG) appendFileSync(process.env.MAILRIG_IMPORT_LOG, result.url + '\\n');
        return result;
      }`),
);
