// A first-in first-out queue with O(1) removal at the head. Array.prototype.shift() moves every
// element that follows: on a session's queue of 100,000 waiting messages (a subscriber whose
// Receive Maximum is in flight while publishers flood it) that made each delivery O(n), and the
// broker spent two thirds of its time in it (measured with --cpu-prof, see session-backend.ts).
export class Fifo<T> {
  private items: Array<T | undefined> = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  shift(): T | undefined {
    const { items } = this;
    if (this.head === items.length) return undefined;
    const item = items[this.head];
    items[this.head++] = undefined;
    if (this.head === items.length) {
      items.length = 0;
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= items.length) {
      // the consumed half goes in one move: amortised O(1) per item
      items.splice(0, this.head);
      this.head = 0;
    }
    return item;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = this.head; i < this.items.length; i++) yield this.items[i] as T;
  }
}
