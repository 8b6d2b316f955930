/**
 * inventory/: files → resolved hosts with vars; host patterns. Knows nothing of SSH or playbooks.
 */
export type { ConnectionVars, Inventory, InventoryFormat, InventoryGroup, InventoryHost } from './types.js';
export { detectInventoryFormat, loadInventory, parseInventory } from './load.js';
export { connectionVars } from './connection.js';
export { selectHosts } from './patterns.js';
export { inventoryToGraph, inventoryToList, type InventoryList, type InventoryListGroup } from './render.js';
export { expandHostRange } from './ranges.js';
