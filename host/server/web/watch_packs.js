// nodehost's frontend extension for `nodehost serve --watch-packs` (served as /extensions/nodehost/...).
// The server sends "nodehost.node_defs_changed" to every client after it reloaded an edited node pack;
// when definitions were added, removed or changed, the page reads /object_info again, as its "Refresh Node
// Definitions" command does (refreshComboInNodes registers every definition it reads). That refresh only adds
// and replaces: a node type it no longer finds stays registered, and the node library would keep listing it as a
// "frontend only" node, so the removed ones are unregistered first. A failed reload is shown as a toast.
import { app } from "../../scripts/app.js";
import { api } from "../../scripts/api.js";

function unregister(names) {
  const types = window.LiteGraph?.registered_node_types ?? {};
  for (const name of names) {
    if (name in types) {
      window.LiteGraph.unregisterNodeType(name);
    }
  }
}

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
        unregister(detail.removed);
        await app.refreshComboInNodes();
      }
    });
  },
});
