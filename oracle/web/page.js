() => {
  // The page's own behaviour around the microphone (look.py fills in the messages):
  // - says "Listening" once the server has audio;
  // - a missing microphone or a refused permission: Record shows a message saying so and how to fix it
  //   (instead of nothing at all);
  // - hands-free: presses Stop itself when the server says the question has ended (#live data-ended), and in
  //   any mode when the recording failed (data-failed: Stop then tells why);
  // - barge-in (hands-free): while the answer plays the microphone listens again, and speech pauses the answer;
  // - keeps keyboard focus on the Record/Stop button as one replaces the other;
  // - "Correct it and ask again" puts what was heard in the question box, to edit and press Enter.
  const MESSAGES = __MESSAGES__;
  // Everything this script depends on in Gradio's DOM (its classes, its elements, its lazily loaded recorder
  // modules), in one place: GRADIO_DOM in oracle/web/gradio_adapter/page.py. The ids (#question-audio, ...)
  // are the app's own elem_ids.
  const GRADIO = __GRADIO_DOM__;
  const recorderPattern = new RegExp(GRADIO.recorder_modules.pattern);
  const recorderLoaded = () => performance.getEntriesByType('resource')
    .filter((entry) => recorderPattern.test(entry.name) && entry.responseEnd > 0).length >= GRADIO.recorder_modules.count;
  // Gradio's buttons by their role, never by their words: Gradio translates those into the browser's language.
  const within = (role) => GRADIO.recorder_buttons[role].split(',').map((one) => `#question-audio ${one.trim()}`).join(', ');
  const button = (role) => document.querySelector(within(role));
  const isButton = (element, role) => element.matches(GRADIO.recorder_buttons[role]);
  const handsFree = () => document.querySelector(`#hands-free ${GRADIO.checkbox}`)?.checked === true;

  const problem = (text) => {
    const box = document.querySelector('#microphone-problem');
    if (!box) return;
    box.replaceChildren();
    if (!text) return;
    const line = document.createElement('p');
    line.className = 'microphone-problem';
    line.setAttribute('role', 'alert');
    line.textContent = text;
    box.append(line);
  };

  // Known before any press, without asking: is there a microphone, and has this page been refused one?
  // (Gradio asks for the microphone itself on Record and, when that fails, shows nothing.)
  let microphoneProblem = null;
  const checkMicrophone = async () => {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      microphoneProblem = MESSAGES.unsupported;
      return;
    }
    let refused = false;
    try {
      const permission = await navigator.permissions.query({ name: 'microphone' });
      refused = permission.state === 'denied';
      permission.onchange = checkMicrophone;
    } catch (error) { /* a browser that cannot tell: Gradio's prompt decides */ }
    const devices = await navigator.mediaDevices.enumerateDevices().catch(() => []);
    const present = devices.some((device) => device.kind === 'audioinput');
    microphoneProblem = refused ? MESSAGES.refused : present ? null : MESSAGES.missing;
    if (!microphoneProblem) problem(null);
  };
  checkMicrophone();
  navigator.mediaDevices?.addEventListener?.('devicechange', checkMicrophone);

  let keepFocus = false;
  document.addEventListener('click', (event) => {
    const pressed = event.target instanceof Element && event.target.closest('#question-audio button');
    if (!pressed) return;
    const record = isButton(pressed, 'record');
    const stop = isButton(pressed, 'stop');
    if (record || stop) keepFocus = pressed === document.activeElement || keepFocus;
    // A person's own press (or any Stop) starts afresh: the last answer need not play on.
    if (event.isTrusted || stop) window.oracleKeepAnswer = false;
    if (record && microphoneProblem) {
      event.preventDefault();
      event.stopImmediatePropagation();
      problem(microphoneProblem);
    } else if (record && !recorderLoaded()) {
      // Too early for Gradio's recorder: press again once it has loaded.
      event.preventDefault();
      event.stopImmediatePropagation();
      const retry = setInterval(() => {
        if (!recorderLoaded()) return;
        clearInterval(retry);
        setTimeout(() => (button('record') || pressed).click(), 100);  // Gradio may have drawn it anew meanwhile
      }, 50);
    }
  }, true);
  // Focus given to Record or Stop (the keyboard's Tab) stays on the button that replaces it, as after a press:
  // Gradio draws its recorder's buttons anew as its lazily loaded modules arrive.
  document.addEventListener('focusin', (event) => {
    const focused = event.target instanceof Element && event.target.closest('#question-audio button');
    if (focused && (isButton(focused, 'record') || isButton(focused, 'stop'))) keepFocus = true;
  });

  document.addEventListener('click', (event) => {
    const edit = event.target instanceof Element && event.target.closest('#heard .heard-edit');
    const box = document.querySelector(`#question-text ${GRADIO.textbox}`);
    if (!edit || !box) return;
    box.value = edit.dataset.question;
    box.dispatchEvent(new Event('input', { bubbles: true }));
    box.focus();
    box.setSelectionRange(box.value.length, box.value.length);
  });

  document.addEventListener('playing', (event) => {
    const audio = event.target;
    if (!(audio instanceof HTMLMediaElement) || !audio.closest('#answer-audio') || !handsFree()) return;
    const record = button('record');
    if (!record) return;  // already recording
    window.oracleKeepAnswer = true;  // read by the Record event's own handler (look.js_values_unless_answer_kept)
    record.click();
  }, true);

  let wasEnded = false;  // the question had ended at the last look (Stop is pressed as it becomes true)
  const watch = () => {
    const live = document.querySelector('#live .live-words');
    // "Opening the microphone…" until the server has audio (Gradio drops what comes before), then "Listening".
    const hint = document.querySelector('#status .stage-listening .hint');
    const said = hint && hint.lastChild;
    if (said && said.textContent === MESSAGES.opening && live && Number(live.dataset.seconds) > 0) {
      said.textContent = MESSAGES.listening;
    }
    if (live && live.dataset.speech === 'true' && handsFree()) {
      const answer = document.querySelector(`#answer-audio ${GRADIO.player}`);
      if (answer && !answer.paused && !answer.ended) {
        answer.pause();
      }
    }
    const ended = (live?.dataset.ended === 'true' && handsFree()) || live?.dataset.failed === 'true';
    if (ended && !wasEnded) button('stop')?.click();
    wasEnded = ended;
    // Focus lost because the focused button was replaced: give it to the button that replaced it.
    if (keepFocus && (document.activeElement === null || document.activeElement === document.body)) {
      const next = button('record') || button('stop');
      if (next) next.focus();
    }
  };
  new MutationObserver(watch).observe(document.body,
    { subtree: true, childList: true, attributes: true, attributeFilter: ['data-ended', 'data-failed', 'disabled', 'class'] });
}
