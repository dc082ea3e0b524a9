import type { Notification, NotificationKind, Notifier } from '../ports/notifier.js';

/**
 * Keeps every notification in memory, in order: the notifier of local runs and the demo, where
 * the CLI prints what was collected. Optionally forwards each one to a callback as it arrives.
 */
export class CollectingNotifier implements Notifier {
  private readonly collected: Notification[] = [];

  constructor(private readonly onNotify?: (n: Notification) => void) {}

  async notify(n: Notification): Promise<void> {
    const copy = { ...n };
    this.collected.push(copy);
    this.onNotify?.(copy);
  }

  /** Everything collected so far, oldest first. */
  get notifications(): readonly Notification[] {
    return this.collected;
  }

  /** The collected notifications of one kind, oldest first. */
  ofKind(kind: NotificationKind): Notification[] {
    return this.collected.filter((n) => n.kind === kind);
  }

  /** Forgets everything collected. */
  clear(): void {
    this.collected.length = 0;
  }
}
