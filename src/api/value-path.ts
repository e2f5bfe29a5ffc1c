/**
 * Where a value sits in a parsed JSON body, as a refusal names it: `a.b[1].c`. A scan of the body keeps, for each
 * value, a link to its parent and its own step (a key or an index), and builds the path of the one value it reports,
 * once, by walking the links up (src/api/card-data.ts): never the path of every value, which would cost the square of
 * the body's depth.
 */

/** A value's place: its parent's link and its own step; the root's step is undefined. */
export interface PathLink {
  parent: PathLink | undefined;
  step: string | number | undefined;
}

/** The path of a link, `a.b[1].c` (keys joined by dots, indexes in brackets); '' for the root. */
export function pathOf(link: PathLink | undefined): string {
  const steps: (string | number)[] = [];
  for (let at = link; at?.step !== undefined; at = at.parent) steps.push(at.step);
  let path = '';
  for (let i = steps.length - 1; i >= 0; i--) {
    const step = steps[i] as string | number;
    path = typeof step === 'number' ? `${path}[${step}]` : path ? `${path}.${step}` : step;
  }
  return path;
}
