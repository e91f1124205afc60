// The interfaces an app module's export can speak, by the names `--interface` takes.

/** The interfaces `--interface` chooses between; detection picks one when it is not given. */
export const INTERFACE_NAMES = ['gateway', 'node', 'fetch'] as const;
export type InterfaceName = (typeof INTERFACE_NAMES)[number];
