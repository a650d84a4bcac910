console.log("demo_pack web extension");
