async () => {
  const LG = window.LiteGraph, app = window.app;
  app.graph.clear();
  const add = (t, x, y) => { const n = LG.createNode(t); n.pos = [x, y]; app.graph.add(n); return n; };
  const a = add("EmptyImage", 0, 0); a.widgets[0].value = 32; a.widgets[1].value = 16;
  const b = add("EmptyImage", 0, 300); b.widgets[0].value = 32; b.widgets[1].value = 16; b.widgets[3].value = 255;
  const noise = add("RandomNoise", 300, 500); noise.widgets[0].value = 77;
  const inv = add("ImageInvert", 300, 0);
  const batch = add("ImageBatch", 600, 0);
  const sc = add("ImageScaleBy", 900, 0); sc.widgets[1].value = 0.5;
  const save1 = add("SaveImage", 1200, 0);
  const save2 = add("SaveImage", 1200, 400);
  a.connect(0, inv, 0); inv.connect(0, batch, 0); b.connect(0, batch, 1); batch.connect(0, sc, 0);
  sc.connect(0, save1, 0); inv.connect(0, save2, 0);
  app.canvas.selectItems([noise, inv, batch, sc]);
  const p = app.extensionManager.command.execute("Comfy.GroupNode.ConvertSelectedNodesToGroupNode");
  await new Promise(r => setTimeout(r, 800));
  const input = document.querySelector(".p-dialog input");
  if (input) { input.value = "Mixed"; input.dispatchEvent(new Event("input"));
    const btn = [...document.querySelectorAll(".p-dialog button")].find(b => /confirm|ok|save/i.test(b.textContent));
    if (btn) btn.click(); }
  await p;
  await new Promise(r => setTimeout(r, 500));
  const group = app.graph._nodes.find(n => n.type.startsWith("workflow"));
  group.widgets.find(w => /scale_by/.test(w.name)).value = 1.5;
  group.widgets.find(w => /noise_seed/.test(w.name)).value = 1234;
  group.widgets.filter(w => /control_after_generate/.test(w.name)).forEach(w => w.value = "fixed");
  return {names: group.widgets.map(w => w.name), type: group.type};
}
