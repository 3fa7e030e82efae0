// Subscription index: a trie over topic levels so a publish visits only matching branches
// instead of every subscription.

interface TrieNode<T> {
  children: Map<string, TrieNode<T>>;
  values: Map<string, T>;
}

export interface TopicTrie<T> {
  add(filter: string, key: string, value: T): void;
  remove(filter: string, key: string): boolean;
  /** Every value whose filter matches the topic name (shared between calls: read only). */
  match(topic: string): readonly T[];
  readonly size: number;
}

/** Topics whose matches are remembered until the next subscription change (then all are forgotten). */
const MATCH_CACHE_SIZE = 10_000;

export function createTopicTrie<T>(): TopicTrie<T> {
  const root: TrieNode<T> = newNode();
  let size = 0;
  // Devices publish to the same topics over and over while subscriptions change rarely: the
  // walk (split + recursion) was the largest routing cost. Callers must not mutate the result.
  const matchCache = new Map<string, readonly T[]>();

  function collect(node: TrieNode<T>, levels: string[], depth: number, out: T[]): void {
    if (depth === levels.length) {
      for (const v of node.values.values()) out.push(v);
      // `a/#` matches `a` too [MQTT-4.7.1-2]
      const hash = node.children.get('#');
      if (hash) for (const v of hash.values.values()) out.push(v);
      return;
    }
    // No wildcard at the first level matches a `$` topic [MQTT-4.7.2-1]
    const dollar = depth === 0 && levels[0].startsWith('$');
    if (!dollar) {
      const hash = node.children.get('#');
      if (hash) for (const v of hash.values.values()) out.push(v);
      const plus = node.children.get('+');
      if (plus) collect(plus, levels, depth + 1, out);
    }
    const exact = node.children.get(levels[depth]);
    if (exact) collect(exact, levels, depth + 1, out);
  }

  return {
    add(filter, key, value) {
      matchCache.clear();
      let node = root;
      for (const level of filter.split('/')) {
        let next = node.children.get(level);
        if (!next) node.children.set(level, (next = newNode()));
        node = next;
      }
      if (!node.values.has(key)) size++;
      node.values.set(key, value);
    },
    remove(filter, key) {
      matchCache.clear();
      const path: Array<[TrieNode<T>, string]> = [];
      let node = root;
      for (const level of filter.split('/')) {
        const next = node.children.get(level);
        if (!next) return false;
        path.push([node, level]);
        node = next;
      }
      if (!node.values.delete(key)) return false;
      size--;
      // prune empty branches so the trie does not grow with churned subscriptions
      for (let i = path.length - 1; i >= 0; i--) {
        const [parent, level] = path[i];
        const child = parent.children.get(level)!;
        if (child.values.size > 0 || child.children.size > 0) break;
        parent.children.delete(level);
      }
      return true;
    },
    match(topic) {
      const cached = matchCache.get(topic);
      if (cached) return cached;
      const out: T[] = [];
      collect(root, topic.split('/'), 0, out);
      if (matchCache.size >= MATCH_CACHE_SIZE) matchCache.clear();
      matchCache.set(topic, out);
      return out;
    },
    get size() {
      return size;
    },
  };
}

function newNode<T>(): TrieNode<T> {
  return { children: new Map(), values: new Map() };
}
