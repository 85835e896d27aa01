/**
 * The signed-in home: this device, the other devices with a way to sign each out, log out, and
 * log out everywhere (with a confirmation step, since it also ends this session).
 */
import type { Session } from "../../../../gen/cypher/session/v1/session_pb.js";
import { describeError } from "../../client/error-messages.js";
import type { Screen, Ui } from "../app.js";
import type { Route } from "../routes.js";
import { accountNav } from "../ui/account-nav.js";
import { busy, button, notice } from "../ui/components.js";
import { h, icon, ICONS, replaceChildren } from "../ui/dom.js";
import { ago, dateTime, timestampToDate } from "../ui/format.js";

export function sessionsScreen(ui: Ui, route: Extract<Route, { name: "sessions" }>): Screen {
  const state = ui.sessions.current;
  const username = state.status === "signed-in" ? state.session.username : "";
  const message = notice();
  if (route.flash) message.show(route.flash.tone, route.flash.message);

  const thisDevice = h("div", { class: "device-slot", "aria-busy": "true" }, skeleton());
  const othersHeading = h("h2", { class: "section-title", id: "others-title" }, "Other devices");
  const othersList = h("ul", { class: "device-list", "aria-labelledby": "others-title", "aria-busy": "true" }, h("li", {}, skeleton()));
  const refresh = button("Refresh", { variant: "ghost", iconPaths: ICONS.refresh, onClick: () => void load() });
  refresh.setAttribute("aria-label", "Refresh the list of devices");
  let disposed = false;

  const logout = button("Log out", {
    variant: "secondary",
    iconPaths: ICONS.logout,
    onClick: async () => {
      const done = busy(logout, "Logging out…");
      try {
        await ui.sessions.logout();
      } catch (err) {
        done();
        message.show("error", describeError(err, "session").message);
      }
    },
  });

  const dangerZone = h("div", { class: "danger-zone" });
  renderDangerZone(false);

  function renderDangerZone(confirming: boolean): void {
    if (!confirming) {
      const start = button("Log out everywhere", { variant: "danger", onClick: () => renderDangerZone(true) });
      replaceChildren(
        dangerZone,
        h("div", {}, h("h2", { class: "section-title" }, "Log out everywhere"), h("p", { class: "muted" }, "Ends every session of your account, on every device, including this one.")),
        start,
      );
      return;
    }
    const confirm = button("Yes, log out everywhere", {
      variant: "danger",
      onClick: async () => {
        const done = busy(confirm, "Logging out…");
        try {
          await ui.sessions.logout({ everywhere: true });
        } catch (err) {
          done();
          message.show("error", describeError(err, "session").message);
        }
      },
    });
    const cancel = button("Cancel", {
      variant: "ghost",
      onClick: () => {
        renderDangerZone(false);
        dangerZone.querySelector<HTMLButtonElement>("button")?.focus();
      },
    });
    replaceChildren(
      dangerZone,
      h("div", { role: "group", "aria-labelledby": "confirm-everywhere" }, h("h2", { class: "section-title", id: "confirm-everywhere" }, "Log out on every device?"), h("p", { class: "muted" }, "You will need your password and a code to log in again.")),
      h("div", { class: "inline-actions" }, confirm, cancel),
    );
    confirm.focus();
  }

  async function load(): Promise<void> {
    const done = busy(refresh, "Refreshing…");
    try {
      const { sessions } = await ui.account.listSessions({});
      if (disposed) return;
      render(sessions);
    } catch (err) {
      if (disposed) return;
      message.show("error", describeError(err, "session").message);
    } finally {
      done();
    }
  }

  function render(sessions: Session[]): void {
    const current = sessions.find((s) => s.current);
    const others = sessions.filter((s) => !s.current);
    replaceChildren(thisDevice, current ? deviceCard(current, null) : h("p", { class: "muted" }, "This device's session was not found."));
    thisDevice.removeAttribute("aria-busy");
    othersHeading.textContent = others.length === 0 ? "Other devices" : `Other devices (${others.length})`;
    othersList.removeAttribute("aria-busy");
    if (others.length === 0) {
      replaceChildren(othersList, h("li", { class: "empty" }, icon([...ICONS.shield]), h("p", {}, "No other device is logged in to your account.")));
      return;
    }
    replaceChildren(othersList, ...others.map((s) => h("li", {}, deviceCard(s, () => revoke(s)))));
  }

  async function revoke(session: Session): Promise<void> {
    const btn = othersList.querySelector<HTMLButtonElement>(`button[data-session-id="${CSS.escape(session.sessionId)}"]`);
    const done = btn ? busy(btn, "Logging out…") : () => {};
    try {
      await ui.account.revokeSession({ sessionId: session.sessionId });
      message.show("success", `${session.deviceName || "The device"} has been logged out.`);
      await load();
      othersHeading.focus();
    } catch (err) {
      done();
      message.show("error", describeError(err, "session").message);
    }
  }

  const element = h(
    "section",
    { class: "card card-wide" },
    accountNav(ui, "sessions"),
    h(
      "header",
      { class: "screen-header screen-header-row" },
      h("div", {}, h("h1", { class: "title", tabindex: "-1" }, "Your devices"), h("p", { class: "subtitle" }, "Logged in as ", h("strong", { class: "username" }, username))),
      logout,
    ),
    message.element,
    h("h2", { class: "section-title" }, "This device"),
    thisDevice,
    h("div", { class: "section-row" }, othersHeading, refresh),
    othersList,
    dangerZone,
  );
  othersHeading.setAttribute("tabindex", "-1");
  void load();
  return {
    element,
    title: "Your devices",
    dispose: () => {
      disposed = true;
    },
  };
}

function deviceCard(session: Session, onRevoke: (() => void) | null): HTMLElement {
  const created = timestampToDate(session.createdAt);
  const lastActive = timestampToDate(session.lastRefreshedAt) ?? created;
  const isPhone = /Android|iOS/.test(session.deviceName);
  const revoke = onRevoke ? button("Log out", { variant: "secondary", onClick: onRevoke }) : null;
  if (revoke) {
    revoke.dataset.sessionId = session.sessionId;
    revoke.setAttribute("aria-label", `Log out ${session.deviceName || "this device"}`);
  }
  return h(
    "article",
    { class: "device", "data-session-id": session.sessionId },
    h("div", { class: "device-icon" }, icon([...(isPhone ? ICONS.phone : ICONS.device)])),
    h(
      "div",
      { class: "device-body" },
      h("p", { class: "device-name" }, session.deviceName || "Unnamed device", session.current ? h("span", { class: "badge" }, "This device") : null),
      h(
        "p",
        { class: "device-meta" },
        created ? h("span", { title: dateTime(created) }, `Logged in ${ago(created)}`) : null,
        lastActive && created && lastActive.getTime() !== created.getTime() ? h("span", { title: dateTime(lastActive) }, ` · active ${ago(lastActive)}`) : null,
      ),
    ),
    revoke,
  );
}

function skeleton(): HTMLElement {
  return h("div", { class: "device device-skeleton", "aria-hidden": "true" }, h("div", { class: "device-icon" }), h("div", { class: "device-body" }, h("span", { class: "bar" }), h("span", { class: "bar bar-short" })));
}
