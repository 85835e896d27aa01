/**
 * After "too many attempts", the submit button stays disabled and counts down the wait the server
 * asked for, so nobody keeps pressing a button that cannot work yet.
 */

export function cooldown(btn: HTMLButtonElement, seconds: number): () => void {
  const label = btn.querySelector(".button-label");
  const original = label?.textContent ?? "";
  let left = Math.ceil(seconds);
  btn.disabled = true;
  const render = () => {
    if (label) label.textContent = `Try again in ${left} s`;
  };
  render();
  const timer = setInterval(() => {
    left -= 1;
    if (left > 0) return render();
    stop();
  }, 1000);
  function stop() {
    clearInterval(timer);
    btn.disabled = false;
    if (label) label.textContent = original;
  }
  return stop;
}
