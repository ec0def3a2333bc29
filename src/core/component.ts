// The one lifecycle every part of the daemon has. The constructor only stores collaborators;
// start() acquires (files, pins, sockets, timers), stop() releases and must be safe to call when
// start() failed halfway or never ran. The daemon starts components in order and stops them in
// reverse, each stop isolated from the others' failures.
export interface Component {
  /** For logs: "camera", "door relays", "mqtt". */
  readonly name: string;
  start(): Promise<void> | void;
  stop(): Promise<void> | void;
}
