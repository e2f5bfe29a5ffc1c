/**
 * A dependency a composition root leaves to the functions that use it: the PSP's SDK (stripe, 241 KB minified) is
 * bundled only into the functions that import the module providing it, which are exactly those the catalog lets read
 * a PSP key (test/infra/psp-bundles.test.ts). Asked for where it was not provided, it fails loudly, naming what to
 * import.
 */
import { ConfigError } from './config';

export interface Provided<T> {
  provide(factory: () => T): void;
  get(): T;
}

export function provided<T>(what: string, providedBy: string): Provided<T> {
  let factory: (() => T) | undefined;
  return {
    provide(f) {
      factory = f;
    },
    get() {
      if (!factory) throw new ConfigError(`${what} is not provided in this function: import ${providedBy}`);
      return factory();
    },
  };
}
