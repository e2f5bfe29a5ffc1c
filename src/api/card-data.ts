/**
 * Raw card data is never accepted. A request body is refused when any field name looks like card data or any value
 * holds a card number: a Luhn-valid run of 13-19 digits, whatever separates its digits (see containsCardNumber).
 * Only the field's path is reported, never its value. Nothing here recurses: a body of any depth is scanned with an
 * explicit stack, so a deeply nested body cannot overflow the call stack.
 */
import { type PathLink, pathOf } from './value-path';

const CARD_FIELD =
  /^(card|card_?number|cardnumber|pan|cvc|cvv|cvv2|cvc2|exp_?month|exp_?year|expiry|number|security_?code)$/i;

/** The longest separator between two digit groups of one number ("4242 - 4242" has 3). */
export const MAX_SEPARATOR_LENGTH = 4;
const MIN_CARD_DIGITS = 13;
const MAX_CARD_DIGITS = 19;
const LETTER = /\p{L}/u;
const LETTERS_ONLY = /^\p{L}+$/u;
const LETTER_AT_END = /\p{L}$/u;
const LETTER_AT_START = /^\p{L}/u;

export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

/** A run of ASCII digits in the text: [start, end). */
interface Group {
  start: number;
  end: number;
}

function digitGroups(text: string): Group[] {
  const groups: Group[] = [];
  let start = -1;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : -1;
    const digit = c >= 48 && c <= 57;
    if (digit && start < 0) start = i;
    else if (!digit && start >= 0) {
      groups.push({ start, end: i });
      start = -1;
    }
  }
  return groups;
}

/**
 * Maximal runs of groups [first, last] in which every separator (the text between two neighbouring groups) is
 * `joins`; `joins(i)` is asked about the separator between groups i and i + 1.
 */
function runs(count: number, joins: (i: number) => boolean): [number, number][] {
  const out: [number, number][] = [];
  let first = 0;
  for (let i = 0; i < count; i++) {
    if (i === count - 1 || !joins(i)) {
      out.push([first, i]);
      first = i + 1;
    }
  }
  return out;
}

/**
 * True when the text holds a card number: a Luhn-valid run of 13 to 19 digits, judged whole (a longer run is not a card
 * number, and is not searched for windows: that would flag most long numeric identifiers), where
 *  1. digits are separated by at most 4 characters that are not letters (spaces, dashes, dots, underscores, slashes,
 *     repeated or mixed: "4242--4242  4242.4242"); a run with separators that touches a letter ("c341701-1283-432a",
 *     a piece of a UUID) is left to the next two rules;
 *  2. or digits are grouped as a card is printed (at least 3 groups: groups of one length of 3 digits or more and a
 *     last group no longer, or 4-6-4 / 4-6-5) and separated by at most 4 characters of any kind, letters included
 *     ("4242x4242x4242x4242", "4242a4242b4242c4242", "3782x822463x10005");
 *  3. or such a card-shaped run is cut out of a longer one by its separators being the same (ignoring case; letters
 *     of one length count as the same): "4242x4242x4242x4242 a 12", "4242-4242-4242-4242x1".
 * Rules 2 and 3 ask for a card's shape, so that random hexadecimal identifiers, whose digits are separated by letters,
 * are not taken for card numbers.
 */
export function containsCardNumber(text: string): boolean {
  const groups = digitGroups(text);
  const count = groups.length;
  if (count === 0) return false;
  const group = (i: number) => groups[i] as Group;
  const separator = (i: number) => text.slice(group(i).end, group(i + 1).start);
  const short = (i: number) => group(i + 1).start - group(i).end <= MAX_SEPARATOR_LENGTH;
  const lengths = (first: number, last: number) => {
    const out: number[] = [];
    for (let i = first; i <= last; i++) out.push(group(i).end - group(i).start);
    return out;
  };
  const isCard = (first: number, last: number) => {
    const total = lengths(first, last).reduce((sum, length) => sum + length, 0);
    if (total < MIN_CARD_DIGITS || total > MAX_CARD_DIGITS) return false;
    let digits = '';
    for (let i = first; i <= last; i++) digits += text.slice(group(i).start, group(i).end);
    return luhnValid(digits);
  };
  const touchesLetter = (first: number, last: number) =>
    LETTER_AT_END.test(text.slice(Math.max(0, group(first).start - 2), group(first).start)) ||
    LETTER_AT_START.test(text.slice(group(last).end, group(last).end + 2));

  // 1. Digits with short separators without letters.
  for (const [first, last] of runs(count, (i) => short(i) && !LETTER.test(separator(i)))) {
    if ((first === last || !touchesLetter(first, last)) && isCard(first, last)) return true;
  }
  // 2. A card's shape, with any short separators.
  for (const [first, last] of runs(count, short)) {
    if (cardShaped(lengths(first, last)) && isCard(first, last)) return true;
  }
  // 3. A card's shape, with the same separator throughout.
  let first = 0;
  while (first < count - 1) {
    if (!short(first)) {
      first++;
      continue;
    }
    const kind = separator(first);
    let last = first + 1;
    while (last < count - 1 && short(last) && sameSeparator(separator(last), kind)) last++;
    if (cardShaped(lengths(first, last)) && isCard(first, last)) return true;
    first = last;
  }
  return false;
}

function sameSeparator(a: string, b: string): boolean {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  return x === y || (x.length === y.length && LETTERS_ONLY.test(x) && LETTERS_ONLY.test(y));
}

/** Digit groups as cards are printed: 4-4-4-4, 4-4-4-1, 3-3-3-3-3..., and 4-6-5 / 4-6-4 (Amex, Diners). */
function cardShaped(lengths: number[]): boolean {
  if (lengths.length < 3) return false;
  const [head = 0, second = 0, third = 0] = lengths;
  if (lengths.length === 3 && head === 4 && second === 6 && (third === 4 || third === 5)) return true;
  if (head < 3) return false;
  const tail = lengths[lengths.length - 1] ?? 0;
  return lengths.slice(0, -1).every((length) => length === head) && tail <= head;
}

/**
 * A value to scan, and how to name it: its parent and its own step (a key or an index). Only links are kept on the
 * way down; the path of the one finding is built at the end (pathOf), so a scan is linear in the body's size.
 */
interface Node extends PathLink {
  value: unknown;
  parent: Node | undefined;
}

type Work = { visit: Node } | { key: string; parent: Node };

/** The path of the first field that holds or names card data, in document order, or undefined. */
export function findCardData(value: unknown): string | undefined {
  const stack: Work[] = [{ visit: { value, parent: undefined, step: undefined } }];
  while (stack.length > 0) {
    const work = stack.pop() as Work;
    if ('key' in work) {
      // A card number used as a field name is reported without its digits. The path is built for the finding only.
      if (containsCardNumber(work.key)) return pathOf({ parent: work.parent, step: '(field name)' });
      if (CARD_FIELD.test(work.key)) return pathOf({ parent: work.parent, step: work.key });
      continue;
    }
    const node = work.visit;
    const item = node.value;
    if (typeof item === 'string' || typeof item === 'number') {
      if (containsCardNumber(typeof item === 'string' ? item : String(item))) return pathOf(node) || '(body)';
    } else if (Array.isArray(item)) {
      for (let i = item.length - 1; i >= 0; i--) stack.push({ visit: { value: item[i], parent: node, step: i } });
    } else if (item && typeof item === 'object') {
      // Each key is checked just before its value is scanned: the work stack is last in, first out.
      const entries = Object.entries(item);
      for (let i = entries.length - 1; i >= 0; i--) {
        const [key, child] = entries[i] as [string, unknown];
        stack.push({ visit: { value: child, parent: node, step: key } });
        stack.push({ key, parent: node });
      }
    }
  }
  return undefined;
}
