// chatfly-gaps.js: the part of chatfly.js that fetches missing messages from
// history, loaded only when some are missing (after a long absence, or when
// a cluster's relay, which delivers at most once, lost a live message), so
// that the first page stays small.

// fill delivers, in seq order, the messages of room with from < seq <= to
// that client c has not seen, paging back from to; from 0 means "the latest
// page". What it fetched before a failure is still delivered.
export async function fill(c, room, from, to, ws) {
  const got = [];
  try {
    for (let before = to + 1; before - 1 > from; ) {
      const res = await c._call("history", { room, before, limit: from ? Math.min(100, before - 1 - from) : 50 }, ws);
      const ms = res.messages || [];
      got.unshift(...ms.filter((m) => m.seq > from));
      if (!from || !ms.length || !res.more) break;
      before = ms[0].seq;
    }
  } finally {
    for (const m of got) if (c._accept({ ...m, room })) c._emit("message", { room, ...m });
  }
}
