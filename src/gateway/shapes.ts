// Plain objects from flat name/value lists, built by a compiled object literal when the names repeat.

/** Builds the object of one name/value list whose names are known in advance. */
type Factory = (list: readonly string[]) => Record<string, string>;

interface Shape {
  readonly hash: number;
  /** The names, in order. */
  readonly names: readonly string[];
  /** Times this name list was seen. */
  seen: number;
  /** Set once the list was seen often enough; false when its names cannot make a literal. */
  make: Factory | null | false;
}

/**
 * Adding 20–40 keys one by one to an object costs about a microsecond (each store looks its key up
 * at run time, the bulk of building a request's environ); an object literal with the same keys is
 * copied from a template in about 50 ns. A front end sends the same variables in the same order for
 * most requests (its configured params, then the headers a given client sends), so a name list seen
 * `threshold` times gets a literal of its own, compiled once. Lists seen less often take the
 * generic path: names come from clients (HTTP_*), and one-off lists must cost no compilation.
 */
export class ShapeCache {
  private readonly shapes: Shape[] = [];

  constructor(
    private readonly capacity = 16,
    private readonly threshold = 4,
  ) {}

  /** An object of `list`'s variables when its names have a compiled literal, else null. */
  build(list: readonly string[]): Record<string, string> | null {
    const shape = this.find(list) ?? this.remember(list);
    shape.seen++;
    if (shape.make === null && shape.seen >= this.threshold) shape.make = compile(shape.names);
    return shape.make ? shape.make(list) : null;
  }

  private find(list: readonly string[]): Shape | undefined {
    const hash = namesHash(list);
    for (const shape of this.shapes) if (shape.hash === hash && sameNames(shape.names, list)) return shape;
    return undefined;
  }

  /** Number of name lists with a compiled literal. */
  get compiled(): number {
    return this.shapes.filter((shape) => shape.make).length;
  }

  /**
   * A new list replaces the one seen least: lists that keep coming stay, and a stream of one-off
   * lists only replaces other one-off lists.
   */
  private remember(list: readonly string[]): Shape {
    const shape: Shape = { hash: namesHash(list), names: namesOf(list), seen: 0, make: null };
    if (this.shapes.length < this.capacity) {
      this.shapes.push(shape);
      return shape;
    }
    let least = 0;
    for (let i = 1; i < this.shapes.length; i++) {
      if (this.shapes[i].seen <= this.shapes[least].seen) least = i;
    }
    this.shapes[least] = shape;
    return shape;
  }
}

function namesHash(list: readonly string[]): number {
  let hash = list.length;
  for (let i = 0; i < list.length; i += 2) {
    const name = list[i];
    hash = (Math.imul(hash, 31) + name.length * 257 + name.charCodeAt(name.length - 1)) | 0;
  }
  return hash;
}

function sameNames(names: readonly string[], list: readonly string[]): boolean {
  if (names.length * 2 !== list.length) return false;
  for (let k = 0; k < names.length; k++) if (names[k] !== list[2 * k]) return false;
  return true;
}

function namesOf(list: readonly string[]): string[] {
  const names: string[] = [];
  for (let i = 0; i < list.length; i += 2) names.push(list[i]);
  return names;
}

/**
 * `(v) => ({ "NAME0": v[1], "NAME1": v[3], … })`. Names are embedded as JSON string literals, so no
 * name can be read as code. A repeated name (to be merged) or `__proto__` (which a literal would
 * take as the prototype) cannot be expressed this way: false, and such lists stay generic.
 */
function compile(names: readonly string[]): Factory | false {
  if (new Set(names).size !== names.length || names.includes('__proto__')) return false;
  const fields = names.map((name, k) => `${JSON.stringify(name)}: v[${2 * k + 1}]`);
  try {
    return new Function('v', `return { ${fields.join(', ')} };`) as Factory;
  } catch {
    // Code generation from strings disabled (--disallow-code-generation-from-strings).
    return false;
  }
}
