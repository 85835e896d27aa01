import { MemoryKeyValueStore } from "../../server/storage/kv/memory-key-value-store.js";
import { keyValueStoreContract } from "./key-value-store-contract.js";

keyValueStoreContract({
  name: "in-process",
  open: async () => new MemoryKeyValueStore(),
  // In-process state is shared only within the process: another "instance" is the same object.
  openPeer: async (store) => store,
});
