// The "New room" dialog: name, topic, public or private. The creator
// becomes the room's owner and lands in it, where its link can be copied.
import { h } from "../lib/dom.js";
import { field, modal, visibility } from "./ui.js";

export async function open(app) {
  const name = h("input", { id: "room-name", type: "text", required: true, maxLength: 64, autocomplete: "off" });
  const topic = h("input", { id: "room-topic", type: "text", maxLength: 200, autocomplete: "off" });
  const error = h("p", { class: "error", role: "alert" });
  const ok = h("button", { type: "submit" }, "Create room");
  const cancel = h("button", { type: "button", class: "secondary", onclick: () => dlg.close() }, "Cancel");
  const form = h(
    "form",
    { onsubmit },
    field("Name", name),
    field("Topic (optional)", topic),
    visibility(false),
    error,
    h("p", { class: "buttons" }, ok, cancel),
  );
  const dlg = await modal("New room", form);
  name.focus();

  async function onsubmit(e) {
    e.preventDefault();
    if (!name.value.trim()) return void (error.textContent = "Please give the room a name.");
    ok.disabled = true;
    error.textContent = "";
    try {
      const f = await app.client.request("room.create", {
        name: name.value.trim(),
        topic: topic.value.trim(),
        visibility: form.elements.visibility.value,
      });
      dlg.close();
      app.navigate("room/" + f.room.id);
    } catch (err) {
      error.textContent = "Could not create the room: " + err.message;
      name.focus();
    } finally {
      ok.disabled = false;
    }
  }
}
