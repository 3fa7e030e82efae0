// The broker's live connections as a list threaded through the connections themselves: two
// fields per connection instead of an entry in a Set (its hash table is most of another object).
// Also the order of CONNECTs that share a client id while they are being authenticated.
import type { Connection } from './connection.js';

/** CONNECTs of one client id still being authenticated (by their arrival number). */
interface Contenders {
  pending: Map<Connection, number>;
  /** Arrival number of the one of them that attached last (0: none yet). */
  attached: number;
}

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

  private readonly contenders = new Map<string, Contenders>();
  private arrivals = 0;

  /**
   * A CONNECT for `conn.clientId` arrived. Authentication may finish in any order (a queue, an
   * HTTP server), but session takeover must follow the order the CONNECTs came in: the last one
   * wins [MQTT-3.1.4-3], and an earlier one that finishes later must not take over from it.
   */
  connectArrived(conn: Connection): void {
    if (conn.clientId === '') return; // the broker assigns a unique one
    let c = this.contenders.get(conn.clientId);
    if (!c) this.contenders.set(conn.clientId, (c = { pending: new Map(), attached: 0 }));
    c.pending.set(conn, ++this.arrivals);
  }

  /**
   * `conn` is authenticated: may it attach to its session? Not when a CONNECT that came after it
   * already has. When it may, the earlier CONNECTs of its client id still being authenticated are
   * closed: this one would take over from them anyway, and their checks need not run.
   */
  claim(conn: Connection): boolean {
    const c = this.contenders.get(conn.clientId);
    const arrival = c?.pending.get(conn);
    if (!c || arrival === undefined) return true;
    this.connectDone(conn);
    if (arrival < c.attached) return false;
    c.attached = arrival;
    const earlier = [...c.pending].filter(([, n]) => n < arrival).map(([other]) => other);
    for (const other of earlier) other.terminate({ publishWill: false });
    return true;
  }

  /** `conn` no longer contends for its client id (attached, refused or closed). */
  connectDone(conn: Connection): void {
    const c = this.contenders.get(conn.clientId);
    if (!c?.pending.delete(conn)) return;
    // what `attached` says matters only to CONNECTs that arrived before it, and none is left
    if (c.pending.size === 0) this.contenders.delete(conn.clientId);
  }

  /** A snapshot, for visits that may remove other connections or wait. */
  toArray(): Connection[] {
    const all: Connection[] = [];
    this.forEach((c) => all.push(c));
    return all;
  }
}
