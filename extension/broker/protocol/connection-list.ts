// The broker's live connections as a list threaded through the connections themselves: two
// fields per connection instead of an entry in a Set (its hash table is most of another object).
import type { Connection } from './connection.js';

export class ConnectionList {
  private head: Connection | undefined = undefined;
  size = 0;

  add(conn: Connection): void {
    conn.listNext = this.head;
    conn.listPrev = undefined;
    if (this.head) this.head.listPrev = conn;
    this.head = conn;
    this.size++;
  }

  /** Removes a connection of this list; a second call is a no-op. */
  remove(conn: Connection): void {
    if (conn.listPrev === undefined && this.head !== conn) return;
    if (conn.listPrev) conn.listPrev.listNext = conn.listNext;
    else this.head = conn.listNext;
    if (conn.listNext) conn.listNext.listPrev = conn.listPrev;
    conn.listPrev = conn.listNext = undefined;
    this.size--;
  }

  /** Visits every connection; `visit` may remove the one it is given. */
  forEach(visit: (conn: Connection) => void): void {
    for (let conn = this.head; conn;) {
      const next = conn.listNext;
      visit(conn);
      conn = next;
    }
  }

  /** A snapshot, for visits that may remove other connections or wait. */
  toArray(): Connection[] {
    const all: Connection[] = [];
    this.forEach((c) => all.push(c));
    return all;
  }
}
