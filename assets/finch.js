// Finch: load earlier messages when the top of the transcript scrolls into view
// (the "Load earlier messages" button stays clickable without this script).
(() => {
  const observed = new WeakSet();
  const observer = new IntersectionObserver(
    (entries) => {
      for (const entry of entries) {
        if (entry.isIntersecting && !entry.target.hidden) entry.target.click();
      }
    },
    { rootMargin: "300px 0px 0px 0px" },
  );
  setInterval(() => {
    const button = document.querySelector('[data-testid="load-earlier"]');
    if (button && !observed.has(button)) {
      observed.add(button);
      observer.observe(button);
    }
  }, 500);
})();
