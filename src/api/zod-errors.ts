/**
 * A zod error as the API's field errors (every problem names its field). Kept apart from the schemas: full zod and
 * zod/mini report the same issues, and a function that checks with zod/mini does not bundle full zod for this.
 */
import type { core } from 'zod/mini';
import type { FieldError } from './http';

function fieldPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (text, part) => (typeof part === 'number' ? `${text}[${part}]` : text ? `${text}.${String(part)}` : String(part)),
    '',
  );
}

export function zodErrors(error: { issues: readonly core.$ZodIssue[] }): FieldError[] {
  return error.issues.map((issue) => {
    const field = fieldPath(issue.path) || '(body)';
    if (issue.code === 'unrecognized_keys') {
      return { field, message: `unknown field${issue.keys.length > 1 ? 's' : ''}: ${issue.keys.join(', ')}` };
    }
    if (issue.code === 'invalid_type' && issue.input === undefined) return { field, message: `${field} is required` };
    return { field, message: issue.message };
  });
}
