// nodehost's frontend extension for `nodehost serve --watch-packs` (served as /extensions/nodehost/...).
// The server sends "nodehost.node_defs_changed" to every client after it reloaded an edited node pack;
// when definitions were added, removed or changed, the page reads /object_info again, as its "Refresh Node
// Definitions" command does; a failed reload is shown as a toast.
import { app } from "../../scripts/app.js";
import { api } from "../../scripts/api.js";

app.registerExtension({
  name: "nodehost.WatchPacks",
  setup() {
    api.addEventListener("nodehost.node_defs_changed", async ({ detail }) => {
      if (!detail.ok) {
        const message = `node pack ${detail.pack} failed to reload: ${detail.error}`;
        console.warn(`nodehost: ${message}`);
        app.extensionManager?.toast?.add({ severity: "error", summary: "nodehost", detail: message, life: 10000 });
        return;
      }
      if (detail.added.length || detail.removed.length || detail.changed.length) {
        await app.refreshComboInNodes();
      }
    });
  },
});
