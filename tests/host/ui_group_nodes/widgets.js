async () => {
  const LG = window.LiteGraph, app = window.app;
  app.graph.clear();
  const add = (t, x, y) => { const n = LG.createNode(t); n.pos = [x, y]; app.graph.add(n); return n; };
  const pint = add("PrimitiveInt", 0, 0); pint.widgets[0].value = 24;
  const pf = add("PrimitiveFloat", 0, 300); pf.widgets[0].value = 3.0;
  const e = add("EmptyImage", 300, 0);
  const sc = add("ImageScaleBy", 600, 0);
  const save = add("SaveImage", 900, 0);
  pint.connect(0, e, e.inputs.findIndex(i => i.name === "width"));
  pf.connect(0, sc, sc.inputs.findIndex(i => i.name === "scale_by"));
  e.connect(0, sc, 0); sc.connect(0, save, 0);
  app.canvas.selectItems([pint, e, sc]);
  const p = app.extensionManager.command.execute("Comfy.GroupNode.ConvertSelectedNodesToGroupNode");
  await new Promise(r => setTimeout(r, 800));
  const input = document.querySelector(".p-dialog input");
  if (input) { input.value = "Widgets"; input.dispatchEvent(new Event("input"));
    const btn = [...document.querySelectorAll(".p-dialog button")].find(b => /confirm|ok|save/i.test(b.textContent));
    if (btn) btn.click(); }
  await p;
  await new Promise(r => setTimeout(r, 500));
  const group = app.graph._nodes.find(n => n.type.startsWith("workflow"));
  const h = group.widgets.find(w => /height/.test(w.name)); if (h) h.value = 40;
  // a second instance of the same group node, bypassed, fed nothing
  const second = LG.createNode(group.type); second.pos = [300, 600]; app.graph.add(second); second.mode = 2; const fourth = LG.createNode(group.type); fourth.pos = [300, 1200]; app.graph.add(fourth); fourth.mode = 4;
  const third = LG.createNode(group.type); third.pos = [300, 900]; app.graph.add(third);
  return {names: group.widgets.map(w => w.name), inputs: group.inputs.map(i => i.name), type: group.type};
}
