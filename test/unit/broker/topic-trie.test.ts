// The subscription index remembers matches per topic; every subscription change must be seen
// by the next match.
import { describe, expect, it } from 'vitest';
import { createTopicTrie } from '../../../extension/broker/session/topic-trie.js';

describe('topic trie match cache', () => {
  it('sees additions, replacements and removals made after a cached match', () => {
    const trie = createTopicTrie<string>();
    trie.add('a/+', 'x', 'x1');
    expect(trie.match('a/b')).toEqual(['x1']);
    trie.add('a/#', 'y', 'y1');
    expect([...trie.match('a/b')].sort()).toEqual(['x1', 'y1']);
    trie.add('a/+', 'x', 'x2'); // same key: replaced
    expect([...trie.match('a/b')].sort()).toEqual(['x2', 'y1']);
    trie.remove('a/#', 'y');
    expect(trie.match('a/b')).toEqual(['x2']);
    trie.remove('a/+', 'x');
    expect(trie.match('a/b')).toEqual([]);
    expect(trie.match('$SYS/a')).toEqual([]);
  });
});
