/** An object whose properties are built on first use (a composition root: each function builds only what it uses). */
export function lazy<T extends object>(factories: { [K in keyof T]: () => T[K] }): T {
  const target = {} as T;
  for (const key of Object.keys(factories) as (keyof T)[]) {
    let value: T[typeof key] | undefined;
    Object.defineProperty(target, key, {
      enumerable: true,
      get: () => {
        value ??= factories[key]();
        return value;
      },
    });
  }
  return target;
}
