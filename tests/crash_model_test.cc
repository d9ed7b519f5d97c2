// Tests of CrashVolume's power-loss model itself (libstore/volume/crash_volume.h): what each
// kind of sync makes durable, what each crash mode keeps, and the power switch.
#include <catch2/catch.hpp>
#include <set>
#include <string>
#include <vector>

#include "libstore/volume/crash_volume.h"

namespace cairn {
namespace {

#define REQUIRE_OK(expr)               \
  do {                                 \
    const ::cairn::Status _s = (expr); \
    INFO(_s.ToString());               \
    REQUIRE(_s.ok());                  \
  } while (0)

// The content of path, or "<absent>".
std::string Content(CrashVolume& v, const std::string& path) {
  auto r = v.ReadFile(path, 1 << 20);
  if (!r.ok()) {
    REQUIRE(r.status().code() == Code::kNotFound);
    return "<absent>";
  }
  return *r;
}

bool Exists(CrashVolume& v, const std::string& path) { return v.Stat(path).ok(); }

void Write(CrashVolume& v, const std::string& path, const std::string& data, bool sync) {
  REQUIRE_OK(v.WriteFile(path, data, sync));
}

TEST_CASE("crash model: file content is durable only once synced", "[crash][model]") {
  CrashVolume v("t");
  REQUIRE_OK(v.MakeDirs("d"));
  REQUIRE_OK(v.SyncDir(""));

  SECTION("a new file never synced, entry not synced: gone") {
    Write(v, "d/f", "abc", false);
    v.Crash(CrashMode::kPowerLoss);
    CHECK(Content(v, "d/f") == "<absent>");
  }
  SECTION("a new file synced, entry not synced: gone") {
    Write(v, "d/f", "abc", true);
    v.Crash(CrashMode::kPowerLoss);
    CHECK(Content(v, "d/f") == "<absent>");
  }
  SECTION("entry synced, content not: an empty file") {
    Write(v, "d/f", "abc", false);
    REQUIRE_OK(v.SyncDir("d"));
    v.Crash(CrashMode::kPowerLoss);
    CHECK(Content(v, "d/f") == "");
  }
  SECTION("both synced: kept") {
    Write(v, "d/f", "abc", true);
    REQUIRE_OK(v.SyncDir("d"));
    v.Crash(CrashMode::kPowerLoss);
    CHECK(Content(v, "d/f") == "abc");
  }
  SECTION("appends after a sync are dropped, in-place writes too") {
    auto f = v.NewWritableFile("d/f");
    REQUIRE(f.ok());
    REQUIRE_OK((*f)->Append("hello", 5));
    REQUIRE_OK((*f)->Sync());
    REQUIRE_OK((*f)->Append(" world", 6));
    REQUIRE_OK((*f)->WriteAt(0, "J", 1));
    REQUIRE_OK((*f)->Close());
    REQUIRE_OK(v.SyncDir("d"));
    CHECK(Content(v, "d/f") == "Jello world");
    v.Crash(CrashMode::kPowerLoss);
    CHECK(Content(v, "d/f") == "hello");
  }
  SECTION("truncating a synced file is not durable without a sync") {
    Write(v, "d/f", "old", true);
    REQUIRE_OK(v.SyncDir("d"));
    Write(v, "d/f", "new!", false);
    v.Crash(CrashMode::kPowerLoss);
    CHECK(Content(v, "d/f") == "old");
  }
  SECTION("SyncFile syncs a file's content by its path") {
    Write(v, "d/f", "abc", false);
    REQUIRE_OK(v.SyncFile("d/f"));
    REQUIRE_OK(v.SyncDir("d"));
    v.Crash(CrashMode::kPowerLoss);
    CHECK(Content(v, "d/f") == "abc");
  }
  SECTION("OverwriteFile rewrites in place, unsynced") {
    Write(v, "d/f", "old-content", true);
    REQUIRE_OK(v.SyncDir("d"));
    REQUIRE_OK(v.OverwriteFile("d/f", "new"));
    CHECK(Content(v, "d/f") == "new");
    v.Crash(CrashMode::kPowerLoss);
    CHECK(Content(v, "d/f") == "old-content");
  }
  SECTION("a process kill keeps everything") {
    Write(v, "d/f", "abc", false);
    REQUIRE_OK(v.MakeDirs("e/g"));
    Write(v, "e/g/h", "xyz", false);
    v.Crash(CrashMode::kProcessKill);
    CHECK(Content(v, "d/f") == "abc");
    CHECK(Content(v, "e/g/h") == "xyz");
    // ... and it is all durable now.
    v.Crash(CrashMode::kPowerLoss);
    CHECK(Content(v, "e/g/h") == "xyz");
  }
}

TEST_CASE("crash model: renames, exchanges and removes", "[crash][model]") {
  CrashVolume v("t");
  REQUIRE_OK(v.MakeDirs("a"));
  REQUIRE_OK(v.MakeDirs("b"));
  REQUIRE_OK(v.SyncDir(""));
  Write(v, "a/x", "X", true);
  Write(v, "b/y", "Y", true);
  REQUIRE_OK(v.SyncDir("a"));
  REQUIRE_OK(v.SyncDir("b"));

  SECTION("a rename within one directory: undone without a sync") {
    REQUIRE_OK(v.Rename("a/x", "a/z"));
    v.Crash(CrashMode::kPowerLoss);
    CHECK(Content(v, "a/x") == "X");
    CHECK(Content(v, "a/z") == "<absent>");
  }
  SECTION("a rename within one directory: durable with one sync, atomically") {
    Write(v, "a/t", "T", true);  // a temp file, synced; its name is not
    REQUIRE_OK(v.Rename("a/t", "a/x"));
    REQUIRE_OK(v.SyncDir("a"));
    v.Crash(CrashMode::kPowerLoss);
    CHECK(Content(v, "a/x") == "T");
    CHECK(Content(v, "a/t") == "<absent>");
  }
  SECTION("the content goes with the inode: renamed after its sync") {
    Write(v, "a/t", "T", true);
    REQUIRE_OK(v.Rename("a/t", "b/t"));
    REQUIRE_OK(v.SyncDir("b"));
    v.Crash(CrashMode::kPowerLoss);
    CHECK(Content(v, "b/t") == "T");
  }
  SECTION("across directories: destination synced, source not: both names") {
    REQUIRE_OK(v.Rename("a/x", "b/x"));
    REQUIRE_OK(v.SyncDir("b"));
    v.Crash(CrashMode::kPowerLoss);
    CHECK(Content(v, "a/x") == "X");
    CHECK(Content(v, "b/x") == "X");
    // One inode under two names, like a hard link: a write through one shows through the other.
    auto f = v.NewWritableFile("a/x");
    REQUIRE(f.ok());
    REQUIRE_OK((*f)->Append("Z", 1));
    CHECK(Content(v, "b/x") == "Z");
  }
  SECTION("across directories: source synced, destination not: lost") {
    REQUIRE_OK(v.Rename("a/x", "b/x"));
    REQUIRE_OK(v.SyncDir("a"));
    v.Crash(CrashMode::kPowerLoss);
    CHECK(Content(v, "a/x") == "<absent>");
    CHECK(Content(v, "b/x") == "<absent>");
  }
  SECTION("across directories: both synced") {
    REQUIRE_OK(v.Rename("a/x", "b/y"));
    REQUIRE_OK(v.SyncDir("a"));
    REQUIRE_OK(v.SyncDir("b"));
    v.Crash(CrashMode::kPowerLoss);
    CHECK(Content(v, "a/x") == "<absent>");
    CHECK(Content(v, "b/y") == "X");
  }
  SECTION("a rename over an existing file, not synced: the old file is back") {
    Write(v, "b/t", "T", true);
    REQUIRE_OK(v.Rename("b/t", "b/y"));
    v.Crash(CrashMode::kPowerLoss);
    CHECK(Content(v, "b/y") == "Y");
  }
  SECTION("Exchange across directories: each side durable with its directory") {
    REQUIRE_OK(v.Exchange("a/x", "b/y"));
    CHECK(Content(v, "a/x") == "Y");
    CHECK(Content(v, "b/y") == "X");
    REQUIRE_OK(v.SyncDir("b"));
    v.Crash(CrashMode::kPowerLoss);
    CHECK(Content(v, "a/x") == "X");  // a's side undone
    CHECK(Content(v, "b/y") == "X");  // b's side kept
  }
  SECTION("Exchange within one directory is atomic") {
    Write(v, "a/w", "W", true);
    REQUIRE_OK(v.SyncDir("a"));
    REQUIRE_OK(v.Exchange("a/x", "a/w"));
    SECTION("not synced") {
      v.Crash(CrashMode::kPowerLoss);
      CHECK(Content(v, "a/x") == "X");
      CHECK(Content(v, "a/w") == "W");
    }
    SECTION("synced") {
      REQUIRE_OK(v.SyncDir("a"));
      v.Crash(CrashMode::kPowerLoss);
      CHECK(Content(v, "a/x") == "W");
      CHECK(Content(v, "a/w") == "X");
    }
  }
  SECTION("Remove: undone without a sync, durable with one") {
    REQUIRE_OK(v.Remove("a/x"));
    REQUIRE_OK(v.Remove("b/y"));
    REQUIRE_OK(v.SyncDir("b"));
    v.Crash(CrashMode::kPowerLoss);
    CHECK(Content(v, "a/x") == "X");
    CHECK(Content(v, "b/y") == "<absent>");
  }
  SECTION("renaming two names of one inode onto each other does nothing") {
    REQUIRE_OK(v.Rename("a/x", "b/x"));
    REQUIRE_OK(v.SyncDir("b"));
    v.Crash(CrashMode::kPowerLoss);
    REQUIRE_OK(v.Rename("a/x", "b/x"));
    CHECK(Content(v, "a/x") == "X");
    CHECK(Content(v, "b/x") == "X");
  }
}

TEST_CASE("crash model: directories", "[crash][model]") {
  CrashVolume v("t");

  SECTION("a directory whose parent was not synced is gone, with what was synced inside") {
    REQUIRE_OK(v.MakeDirs("p/q"));
    Write(v, "p/q/f", "F", true);
    REQUIRE_OK(v.SyncDir("p/q"));
    REQUIRE_OK(v.SyncDir("p"));
    v.Crash(CrashMode::kPowerLoss);
    CHECK_FALSE(Exists(v, "p"));
  }
  SECTION("every directory MakeDirs made needs its parent synced") {
    REQUIRE_OK(v.MakeDirs("p/q"));
    Write(v, "p/q/f", "F", true);
    REQUIRE_OK(v.SyncDir("p/q"));
    REQUIRE_OK(v.SyncDir(""));
    SECTION("p synced: all there") {
      REQUIRE_OK(v.SyncDir("p"));
      v.Crash(CrashMode::kPowerLoss);
      CHECK(Content(v, "p/q/f") == "F");
    }
    SECTION("p not synced: p is there, empty") {
      v.Crash(CrashMode::kPowerLoss);
      CHECK(Exists(v, "p"));
      CHECK_FALSE(Exists(v, "p/q"));
    }
  }
  SECTION("a removed directory comes back with its durable entries") {
    REQUIRE_OK(v.MakeDirs("p/q"));
    Write(v, "p/q/f", "F", true);
    REQUIRE_OK(v.SyncAll());
    REQUIRE_OK(v.Remove("p/q/f"));
    REQUIRE_OK(v.RemoveDir("p/q"));
    CHECK_FALSE(Exists(v, "p/q"));
    SECTION("nothing synced") {
      v.Crash(CrashMode::kPowerLoss);
      CHECK(Content(v, "p/q/f") == "F");
    }
    SECTION("the directory synced before its removal, its parent not") {
      // (SyncDir of a removed directory is impossible; sync the parent instead.)
      REQUIRE_OK(v.SyncDir("p"));
      v.Crash(CrashMode::kPowerLoss);
      CHECK_FALSE(Exists(v, "p/q"));
    }
  }
  SECTION("a directory renamed away (rb's trash) and its parent synced: gone for good") {
    REQUIRE_OK(v.MakeDirs("bkt"));
    REQUIRE_OK(v.MakeDirs("tmp"));
    Write(v, "bkt/o", "O", true);
    REQUIRE_OK(v.SyncAll());
    REQUIRE_OK(v.Rename("bkt", "tmp/trash"));
    REQUIRE_OK(v.SyncDir(""));
    v.Crash(CrashMode::kPowerLoss);
    CHECK_FALSE(Exists(v, "bkt"));
    CHECK_FALSE(Exists(v, "tmp/trash"));
  }
  SECTION("SyncAll makes everything durable") {
    REQUIRE_OK(v.MakeDirs("p/q/r"));
    Write(v, "p/q/r/f", "F", false);
    Write(v, "g", "G", false);
    REQUIRE_OK(v.SyncAll());
    Write(v, "h", "H", false);
    v.Crash(CrashMode::kPowerLoss);
    CHECK(Content(v, "p/q/r/f") == "F");
    CHECK(Content(v, "g") == "G");
    CHECK(Content(v, "h") == "<absent>");
  }
}

TEST_CASE("crash model: a partial crash mixes per directory and per file", "[crash][model]") {
  std::set<std::string> seen;
  for (uint64_t seed = 0; seed < 64; ++seed) {
    CrashVolume v("t");
    REQUIRE_OK(v.MakeDirs("a"));
    REQUIRE_OK(v.MakeDirs("b"));
    Write(v, "a/f", "1", true);
    REQUIRE_OK(v.SyncAll());
    Write(v, "a/f", "22", false);  // content changed, not synced
    Write(v, "b/g", "3", true);    // a new name in b, not synced
    v.Crash(CrashMode::kPartial, seed);
    std::string state = Content(v, "a/f") + "," + Content(v, "b/g");
    // Each part is either its durable or its live state, never anything else.
    INFO(state);
    CHECK((state == "1,<absent>" || state == "22,<absent>" || state == "1,3" || state == "22,3"));
    seen.insert(state);
    // The same seed gives the same state.
    CrashVolume w("t");
    REQUIRE_OK(w.MakeDirs("a"));
    REQUIRE_OK(w.MakeDirs("b"));
    Write(w, "a/f", "1", true);
    REQUIRE_OK(w.SyncAll());
    Write(w, "a/f", "22", false);
    Write(w, "b/g", "3", true);
    w.Crash(CrashMode::kPartial, seed);
    CHECK(Content(w, "a/f") + "," + Content(w, "b/g") == state);
  }
  CHECK(seen.size() == 4);
}

TEST_CASE("crash model: the power switch", "[crash][model]") {
  PowerSwitch power;
  CrashVolume a("a", &power), b("b", &power);
  REQUIRE_OK(a.MakeDirs("d"));  // not counted against the armed switch below
  power.ArmAt(3);
  REQUIRE_OK(a.WriteFile("d/f", "x", false));  // open, append, close: calls 0, 1, 2
  CHECK_FALSE(power.tripped());
  Status s = b.MakeDirs("e");  // call 3: the power goes
  CHECK(s.code() == Code::kIOError);
  CHECK(s.message().find("injected crash") != std::string::npos);
  CHECK(power.tripped());
  // Every later call fails and changes nothing, on every volume sharing the switch.
  CHECK_FALSE(a.Remove("d/f").ok());
  CHECK_FALSE(a.Stat("d/f").ok());
  CHECK(power.calls() == 6);
  power.Reset();
  CHECK(Content(a, "d/f") == "x");
  CHECK_FALSE(Exists(b, "e"));

  SECTION("files opened before a crash are dead after it") {
    auto w = a.NewWritableFile("d/g");
    REQUIRE(w.ok());
    auto r = a.NewReadableFile("d/f");
    REQUIRE(r.ok());
    a.Crash(CrashMode::kProcessKill);
    CHECK((*w)->Append("y", 1).code() == Code::kIOError);
    CHECK_FALSE((*r)->Size().ok());
    CHECK(Content(a, "d/f") == "x");
  }
}

}  // namespace
}  // namespace cairn
